"""WeChat Pay v3's bills (docs/RECONCILIATION.md, "Bill formats"): the trade bill and the fund
flow, the same CSVs as v2's (``payments.channels.wechat_bills``), and what fetching them takes:
the request of each kind, and the gunzip that yields the SHA1 WeChat signed."""

import gzip
import hashlib
import zlib
from datetime import date
from pathlib import Path
from urllib.parse import urlencode

from payments.channels.base import ChannelError
from payments.channels.bills import BillKind
from payments.channels.wechat_bills import bill_parse

__all__ = ["bill_parse", "bill_filename", "bill_gunzip", "bill_path"]

BILL_QUERIES = {
    BillKind.TRADE: ("/v3/bill/tradebill", {"bill_type": "ALL"}),
    BillKind.PAYOUT: ("/v3/bill/fundflowbill", {"account_type": "BASIC"}),
}
# The answers that mean "not published yet, ask again later".
NOT_READY_CODES = frozenset({"NO_STATEMENT_EXIST", "STATEMENT_CREATING"})
HASH_TYPE = "SHA1"
CHUNK_BYTES = 64 * 1024


def bill_path(bill_date: date, kind: BillKind) -> str:
    """The request for the day's bill, gzipped (WeChat hashes the file as it is once gunzipped)."""
    path, params = BILL_QUERIES[kind]
    return f"{path}?{urlencode({'bill_date': bill_date.isoformat(), **params, 'tar_type': 'GZIP'})}"


def bill_filename(bill_date: date, kind: BillKind) -> str:
    return f"wechat_v3_{kind}_{bill_date:%Y%m%d}.csv"


def bill_gunzip(source: Path, destination: Path) -> str:
    """Gunzip ``source`` into ``destination`` piece by piece and return the SHA1 (hex) of what
    was written. A stream that is not a whole gzip leaves no file: ``ChannelError``."""
    digest = hashlib.sha1()  # noqa: S324 - the hash WeChat signs, not our choice
    try:
        with gzip.open(source, "rb") as compressed, destination.open("wb") as plain:
            while chunk := compressed.read(CHUNK_BYTES):
                digest.update(chunk)
                plain.write(chunk)
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        destination.unlink(missing_ok=True)
        raise ChannelError(f"{destination.name}: not a whole gzip stream", code="BILL_DAMAGED") from exc
    return digest.hexdigest()
