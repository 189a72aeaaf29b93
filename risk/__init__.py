"""Risk rules as data, counters, decisions, blocklist, window and rollout (issue 3)."""
