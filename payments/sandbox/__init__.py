"""A stand-in for the real channels, mounted at /sandbox/ in development, tests and the demo
(docs/ARCHITECTURE.md §6): it speaks their wire protocols with real signatures under keys it generates for
itself, keeps its own record of every payout (so a double payout shows), sends async notifies
and plays the scenarios that real channels throw at us."""
