"""Everything that crosses to an external party, by capability (docs/ARCHITECTURE.md §2)."""
