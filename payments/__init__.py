"""Everything that crosses to an external channel (issues 3-5)."""
