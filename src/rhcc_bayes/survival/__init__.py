"""survival stage."""
