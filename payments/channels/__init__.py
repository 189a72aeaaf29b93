"""Channel adapters (docs/ARCHITECTURE.md §6): one package per channel behind the interface of
``base``; the sandbox that speaks their wire protocols is ``payments.sandbox``."""
