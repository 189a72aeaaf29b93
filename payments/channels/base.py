"""The one interface every payout channel adapter implements, and what crosses it.

Plain dataclasses cross the boundary (CONVENTIONS: Channels). Amounts are ``Decimal`` yuan here;
an adapter converts to its wire format (fen for WeChat) itself.

Every call ends in one of three ways (seed 000's flaw: an exception is not a failure):
- a result: the channel answered, definitely (``PayoutResult`` with SUCCESS, PROCESSING or FAILED);
- ``RetryableError``: the request did not reach the channel, or the channel said it did not take
  it; sending again with the same order number is safe;
- ``UnknownOutcome``: the request left and no readable answer came back (a timeout, a 5xx, a
  body that does not parse or verify). The channel may have paid: the order stays
  ``processing`` until a query or a notify says what happened.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Protocol


class ChannelError(Exception):
    """Base of the adapters' exceptions; ``code`` is the channel's own code when it gave one."""

    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class RetryableError(ChannelError):
    """Nothing was taken by the channel: the same request may be sent again."""


class UnknownOutcome(ChannelError):
    """The request may have been processed: query before deciding anything."""


class NotifyRejected(ChannelError):
    """A notify that is not genuine (signature, certificate, decryption) or not understood."""


class PayoutState(StrEnum):
    SUCCESS = "success"  # the money reached the payee
    PROCESSING = "processing"  # accepted; the final state comes by notify or query
    FAILED = "failed"  # definitely not paid
    RETURNED = "returned"  # paid, then given back by the payee's bank (a bounce)
    NOT_FOUND = "not_found"  # the channel never received this order number (query only)


@dataclass(frozen=True)
class PayoutRequest:
    """One payout; ``order_no`` is the channel's idempotency key (out_bill_no, partner_trade_no …)."""

    order_no: str
    amount: Decimal
    currency: str
    payee: str  # openid or card number, in clear: never log or store a request
    payee_name: str
    bank_code: str
    remark: str
    notify_url: str  # where the channel reports the final state (channels without notifies ignore it)


@dataclass(frozen=True)
class PayoutResult:
    """The channel's answer to a payout or a query."""

    state: PayoutState
    channel_reference: str = ""
    code: str = ""
    message: str = ""


@dataclass(frozen=True)
class PayoutNotice:
    """A verified payout notify: which order, what became of it, for how much."""

    order_no: str
    state: PayoutState
    amount: Decimal
    channel_reference: str = ""
    code: str = ""
    message: str = ""


@dataclass(frozen=True)
class NotifyReply:
    """The exact answer the channel's notify protocol expects."""

    status: int
    content_type: str
    body: bytes


class PayoutAdapter(Protocol):
    """The payout half of a channel (issue 4); the payment half comes with payments (issue 5)."""

    def payout(self, request: PayoutRequest) -> PayoutResult:
        """Send the payout; the same order number again returns the first result."""
        ...

    def query_payout(self, order_no: str) -> PayoutResult:
        """The channel's state of the order (``NOT_FOUND`` when it never got it)."""
        ...

    def parse_payout_notify(self, *, headers: Mapping[str, str], body: bytes) -> PayoutNotice:
        """Verify and decode a notify; raise ``NotifyRejected`` for anything not genuine."""
        ...

    def notify_reply(self, *, accepted: bool) -> NotifyReply:
        """What to answer the channel: accepted, or "send it again later"."""
        ...
