"""Channel adapters (DESIGN §6): one package per channel behind ``base.PayoutAdapter``; the
sandbox that speaks their wire protocols lives in ``channels.sandbox``."""
