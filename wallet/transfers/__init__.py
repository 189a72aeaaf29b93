"""User-to-user transfers and receive codes (docs/WALLET.md)."""
