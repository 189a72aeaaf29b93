"""The double-entry ledger: accounts, holds, transfers, entries, statements."""
