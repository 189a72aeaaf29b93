"""WeChat Pay v2's bills (docs/RECONCILIATION.md, "Bill formats"): the trade bill and the fund
flow, the same CSVs as v3's (``payments.channels.wechat_bills``), and what fetching them takes:
the endpoint of each kind, and telling the bill from the error document WeChat answers instead."""

from datetime import date
from pathlib import Path

from payments.channels.bills import BillKind
from payments.channels.wechat_bills import bill_parse
from payments.channels.wechat_v2.signing import xml_decode

__all__ = ["bill_parse", "bill_error", "bill_filename"]

BILL_PATHS = {BillKind.TRADE: "/pay/downloadbill", BillKind.PAYOUT: "/pay/downloadfundflow"}
# The error_code of a bill not published yet; any other is a refusal.
NOT_READY_CODE = "20002"
# An error document is a few hundred bytes; a bill never starts with "<xml>".
ERROR_MAX_BYTES = 64 * 1024


def bill_filename(bill_date: date, kind: BillKind) -> str:
    return f"wechat_v2_{kind}_{bill_date:%Y%m%d}.csv"


def bill_error(path: Path) -> dict[str, str] | None:
    """The fields of the error XML WeChat answered (with HTTP 200) instead of the bill, or None
    when ``path`` holds a bill. ``XmlRefused`` when it is XML but not a readable document."""
    with path.open("rb") as file:
        head = file.read(ERROR_MAX_BYTES)
    if not head.lstrip().startswith(b"<xml>"):
        return None
    return xml_decode(head)
