"""Bank-card payout gateway: signed JSON over HTTPS (docs/ARCHITECTURE.md §6). Credentials from the
environment: BANK_MERCHANT_ID, BANK_PRIVATE_KEY, BANK_GATEWAY_PUBLIC_KEY, BANK_BASE_URL."""

from payments.channels.bank.adapter import BankAdapter, adapter_for_sandbox, adapter_from_environment

__all__ = ["BankAdapter", "adapter_for_sandbox", "adapter_from_environment"]
