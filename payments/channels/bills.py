"""What crosses the channel boundary for reconciliation: a day's bill as the channel delivered it,
and its lines in one shape for every channel (docs/RECONCILIATION.md, "Bill formats").

An adapter fetches a bill the channel's own way (``bill_download``) into a local file; the
channel package's ``bills`` module reads that file, or one uploaded by staff, line by line
(``bill_parse``). Parsing streams: a file of any size is read in constant memory, and a file
that breaks the format anywhere (its summary included) raises ``BillMalformed`` naming the line,
so the caller keeps nothing of it.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from importlib import import_module
from pathlib import Path
from typing import BinaryIO, Protocol

from payments.channels.base import RetryableError


class BillKind(StrEnum):
    """Which bill of a day: payments and refunds, or payouts (fund flows)."""

    TRADE = "trade"
    PAYOUT = "payout"


class LineKind(StrEnum):
    PAYMENT = "payment"
    REFUND = "refund"
    PAYOUT = "payout"


class LineStatus(StrEnum):
    """What the channel says became of the line's money."""

    SUCCESS = "success"  # collected, refunded or paid out
    FAILED = "failed"  # not moved (closed, refused)
    PROCESSING = "processing"  # not final at the channel yet
    RETURNED = "returned"  # a payout's money given back by the payee's bank: a line beside its success line


@dataclass(frozen=True, slots=True)
class BillLine:
    """One line of a bill. ``order_no`` is our number of the thing the line is about: the payment
    order's (out_trade_no), the refund's (out_refund_no, out_request_no) or the withdrawal's
    (out_bill_no, partner_trade_no, the gateway's order_no)."""

    line_no: int  # 1-based line of the file (of the detail member, for a zip)
    kind: LineKind
    order_no: str
    channel_reference: str  # the channel's own number: transaction_id, refund_id, transfer_bill_no
    amount: Decimal  # yuan, positive
    # What the channel charged on the line (negative when it gives a fee back, on refunds);
    # None when the bill carries no fee for the line (WeChat fund flows).
    fee: Decimal | None
    status: LineStatus
    occurred_at: datetime  # aware: when the channel booked it
    parent_no: str = ""  # a refund's payment order number


class BillMalformed(ValueError):
    """The file breaks its channel's format: nothing of it may be kept."""

    def __init__(self, line_no: int, reason: str) -> None:
        super().__init__(f"line {line_no}: {reason}")
        self.line_no = line_no
        self.reason = reason


class BillNotReady(RetryableError):
    """The channel has not published the bill of that day yet (WeChat: around 10:00)."""


@dataclass(frozen=True)
class BillDownload:
    """A fetched bill on local disk, verified (hash, signature) and out of its transport
    compression; an Alipay bill stays the zip the channel gives (its members are the bill)."""

    path: Path
    filename: str


class BillAdapter(Protocol):
    """The reconciliation half of a channel."""

    def bill_download(self, bill_date: date, kind: BillKind, directory: Path) -> BillDownload:
        """Fetch the bill of ``bill_date`` into ``directory``. ``BillNotReady`` when it is not
        published yet; ``RetryableError`` / ``UnknownOutcome`` when the channel did not answer;
        ``ChannelError`` when what came back does not verify."""
        ...


class BillParser(Protocol):
    def __call__(self, stream: BinaryIO, kind: BillKind) -> Iterator[BillLine]: ...


# The bill parser of each adapter (``Channel.adapter``). Plain module names: parsing needs no
# Django, so a separate process can parse while the importing one writes (reconciliation.bills).
PARSERS = {
    "wechat_v3": "payments.channels.wechat_v3.bills",
    "wechat_v2": "payments.channels.wechat_v2.bills",
    "alipay": "payments.channels.alipay.bills",
    "bank": "payments.channels.bank.bills",
}


def bill_parse(adapter: str, stream: BinaryIO, kind: BillKind) -> Iterator[BillLine]:
    """The lines of a bill in the format of the ``adapter`` (``Channel.adapter``)."""
    if adapter not in PARSERS:
        raise ValueError(f"No bill parser for the adapter {adapter!r}")
    parser: BillParser = import_module(PARSERS[adapter]).bill_parse
    return parser(stream, kind)
