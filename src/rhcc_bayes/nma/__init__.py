"""nma stage."""
