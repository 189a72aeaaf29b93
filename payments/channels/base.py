"""The interface every channel adapter implements (payouts, payments, refunds), and what crosses it.

Plain dataclasses cross the boundary. Amounts are ``Decimal`` yuan here;
an adapter converts to its wire format (fen for WeChat) itself.

Every call ends in one of three ways (an exception is not a failure: the channel may have paid):
- a result: the channel answered, definitely (``PayoutResult``, ``PaymentStart``, ``PaymentStatus``,
  ``RefundStatus``);
- ``RetryableError``: the request did not reach the channel, or the channel said it did not take
  it; sending again with the same order number is safe;
- ``UnknownOutcome``: the request left and no readable answer came back (a timeout, a 5xx, a
  body that does not parse or verify). The channel may have paid: the order stays
  ``processing`` until a query or a notify says what happened.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
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


class ChannelUnrouted(RetryableError):
    """The channel has no credentials and the sandbox is off: nothing can be sent to it until it
    is configured again. Orders bound to it wait; nothing is failed for it."""


class UnknownOutcome(ChannelError):
    """The request may have been processed: query before deciding anything."""


class NotifyRejected(ChannelError):
    """A notify that is not genuine (signature, certificate, decryption) or not understood."""


class PaymentRefused(ChannelError):
    """The channel definitely refused to open the payment (bad parameters, merchant not allowed):
    nothing can be paid on it, so the order fails."""


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
    """The payout half of a channel."""

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


class PaymentMethod(StrEnum):
    """How the payer pays; each channel serves some of them (``Channel.payment_methods``)."""

    WECHAT_JSAPI = "wechat_jsapi"  # inside WeChat (official account, mini program): needs the payer's openid
    WECHAT_APP = "wechat_app"  # our app calls the WeChat SDK with signed parameters
    WECHAT_H5 = "wechat_h5"  # a mobile browser outside WeChat is sent to ``pay_url``
    WECHAT_NATIVE = "wechat_native"  # the payer scans a QR code of ``code_url``
    ALIPAY_APP = "alipay_app"  # our app passes the signed order string to the Alipay SDK
    ALIPAY_PAGE = "alipay_page"  # desktop browser redirected to the cashier page (``pay_url``)
    ALIPAY_WAP = "alipay_wap"  # mobile browser redirected to the cashier page (``pay_url``)
    BALANCE = "balance"  # the wallet balance: no channel at all


class PaymentState(StrEnum):
    """What the channel says about a payment."""

    PAID = "paid"  # the money arrived (WeChat SUCCESS / REFUND, Alipay TRADE_SUCCESS / TRADE_FINISHED)
    NOT_PAID = "not_paid"  # open: waiting for the payer (NOTPAY, USERPAYING, WAIT_BUYER_PAY)
    CLOSED = "closed"  # closed or revoked without payment: it can never be paid any more
    NOT_FOUND = "not_found"  # the channel has no such order (query only)


class RefundState(StrEnum):
    SUCCESS = "success"  # the money went back to the payer
    PROCESSING = "processing"  # accepted; the final state comes by notify or query
    FAILED = "failed"  # definitely not refunded (closed, refused); an abnormal payer account is
    # PROCESSING with its code: the merchant completes such a refund by hand, and it then succeeds
    NOT_FOUND = "not_found"  # the channel has no such refund (query only)


@dataclass(frozen=True)
class PaymentRequest:
    """Open a payment at the channel; ``order_no`` is the channel's idempotency key
    (``out_trade_no``): the same request again returns the same payment."""

    order_no: str
    amount: Decimal
    currency: str
    subject: str
    method: PaymentMethod
    notify_url: str
    expires_at: datetime
    client_ip: str = ""
    payer_id: str = ""  # the payer's openid, for WECHAT_JSAPI only
    return_url: str = ""  # where the cashier page sends the browser back (Alipay page / wap, WeChat H5)


@dataclass(frozen=True)
class PaymentStart:
    """What the client needs to pay, by method: ``code_url`` (native QR), ``pay_url`` (H5, Alipay
    page / wap: open it in the browser), ``app_params`` (JSAPI / APP: pass to the WeChat SDK;
    Alipay APP: ``{"order_string": ...}``). ``raw`` is the channel's answer for the audit event."""

    code_url: str = ""
    pay_url: str = ""
    app_params: Mapping[str, str] = field(default_factory=dict)
    prepay_id: str = ""
    raw: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class PaymentStatus:
    """A payment's state at the channel, from a query or a verified notify. ``app_id`` and
    ``merchant_id`` are as the channel reported them: the service compares them (and the amount
    and currency) with the order before believing anything."""

    order_no: str
    state: PaymentState
    amount: Decimal | None = None  # what the payer paid or must pay; None when the channel did not say
    currency: str | None = None  # as the channel stated it; None when its message carries none
    app_id: str = ""
    merchant_id: str = ""
    transaction_id: str = ""
    paid_at: datetime | None = None
    code: str = ""
    message: str = ""
    raw: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class RefundRequest:
    """Refund part or all of a paid payment; ``refund_no`` is the channel's idempotency key."""

    refund_no: str
    order_no: str
    transaction_id: str
    amount: Decimal
    total_amount: Decimal  # the payment's paid amount (WeChat asks for both)
    currency: str
    reason: str
    notify_url: str


@dataclass(frozen=True)
class RefundStatus:
    """A refund's state at the channel, from its answer, a query or a verified notify."""

    refund_no: str
    state: RefundState
    amount: Decimal | None = None
    order_no: str = ""
    refund_id: str = ""  # the channel's id of the refund
    code: str = ""
    message: str = ""
    raw: Mapping[str, object] = field(default_factory=dict)


# A verified notify is about one of the three kinds of business.
Notice = PayoutNotice | PaymentStatus | RefundStatus


class PaymentAdapter(Protocol):
    """The payment half of a channel: open, query and close payments, refund, and read notifies.

    ``merchant_id`` and ``app_id`` are the merchant's own, stored on each order, so a notify or
    query answer naming another merchant or app is refused.
    """

    merchant_id: str
    app_id: str

    def payment_create(self, request: PaymentRequest) -> PaymentStart:
        """Open the payment (prepay); ``PaymentRefused`` when the channel definitely will not."""
        ...

    def payment_query(self, order_no: str) -> PaymentStatus:
        """The channel's state of the payment (``NOT_FOUND`` when it never got it)."""
        ...

    def payment_close(self, order_no: str, *, expires_at: datetime) -> PaymentStatus:
        """Close an unpaid payment. Returns CLOSED (also for one the channel never had, once
        nobody can open it any more: Alipay creates a page payment's trade only when the payer
        opens the signed URL, which works until ``expires_at``), or PAID when the payer was
        faster: then the order must be marked paid, not closed. ``RetryableError`` when the
        channel cannot close it yet."""
        ...

    def refund_create(self, request: RefundRequest) -> RefundStatus:
        """Ask for the refund; the same refund number again returns the same refund."""
        ...

    def refund_query(self, refund_no: str, *, order_no: str) -> RefundStatus:
        """The channel's state of the refund (``NOT_FOUND`` when it never got it)."""
        ...

    def parse_notify(self, *, headers: Mapping[str, str], body: bytes) -> Notice:
        """Verify and decode any notify of the channel (payout, payment or refund); raise
        ``NotifyRejected`` for anything not genuine or not understood."""
        ...

    def notify_reply(self, *, accepted: bool) -> NotifyReply:
        """What to answer the channel: accepted, or "send it again later"."""
        ...


class Adapter(PayoutAdapter, PaymentAdapter, Protocol):
    """A channel that collects and pays out; an adapter raises ``NotImplementedError`` for a
    half its channel does not have (the bank gateway only pays out)."""
