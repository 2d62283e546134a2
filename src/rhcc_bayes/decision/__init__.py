"""decision stage."""
