"""Bill files, matching runs and discrepancies against channel bills."""
