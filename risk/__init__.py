"""Risk rules as data, counters, decisions, blocklist, window and rollout (docs/WITHDRAWALS.md)."""
