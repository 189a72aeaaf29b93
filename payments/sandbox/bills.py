"""The sandbox's bills: each channel's bill of a day in the channel's own format, from the
sandbox's books and the differences it was told to play (docs/RECONCILIATION.md, "The sandbox's
bills"). The protocol modules serve them at the channels' own endpoints.

``bill_write`` is the pure writer (a benchmark writes a million lines with it, no HTTP);
``bill_publish`` decides whether a bill is out and which rules it plays; ``bill_store`` keeps a
written bill for a download link, the way WeChat v3 and Alipay hand one out. Everything streams:
rows are written as the database yields them, compressed on the way, into files.
"""

import gzip
import hashlib
import re
import secrets
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import BinaryIO

from django.utils import timezone

from payments.sandbox.bill_alipay import alipay_trade_write
from payments.sandbox.bill_alipay_account import alipay_account_write
from payments.sandbox.bill_bank import bank_bill_write
from payments.sandbox.bill_csv import Writable
from payments.sandbox.bill_entries import CHINA, entries_of
from payments.sandbox.bill_rules import BILL_KINDS, BillNotPublished, bill_rules_take, entries_differing
from payments.sandbox.bill_wechat import wechat_fund_flow_write, wechat_trade_write
from payments.sandbox.fees import collecting_channel
from payments.sandbox.keys import keys_for
from payments.sandbox.models import BillKind, Protocol, SandboxBillRule
from wallet.money import ZERO

# Where bills wait for their download link to be followed, and for how long.
STORE = Path(tempfile.gettempdir()) / "wallet-sandbox-bills"
KEEP_SECONDS = 3600
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32,64}$")


@dataclass(frozen=True)
class StoredBill:
    token: str
    sha1: str  # of the bill itself, before any compression


class HashingWriter:
    """Passes bytes on to ``out`` and hashes them on the way."""

    def __init__(self, out: Writable, algorithm: str) -> None:
        self.out = out
        self.hash = hashlib.new(algorithm)

    def write(self, data: bytes, /) -> int:
        self.hash.update(data)
        return self.out.write(data)

    def flush(self) -> None:
        self.out.flush()

    def hexdigest(self) -> str:
        return self.hash.hexdigest()


def bill_write(protocol: str, kind: str, day: date, out: Writable, *, rules: Iterable[SandboxBillRule] = ()) -> None:
    """Write the ``kind`` bill of ``day`` of ``protocol`` to ``out``: what the books hold, with
    the ``rules``' differences (and the lines the day before's ``next_day`` rules moved here)."""
    if kind not in BILL_KINDS[Protocol(protocol)]:
        raise ValueError(f"{protocol} has no {kind} bill")
    entries = entries_differing(
        entries_of(protocol, kind, day), rules, protocol=protocol, bill_kind=kind, bill_date=day
    )
    keys = keys_for(protocol)
    if protocol == Protocol.ALIPAY and kind == BillKind.PAYOUT:
        alipay_account_write(entries, out, pid=keys["seller_id"], day=day, exported_at=timezone.now())
    elif protocol == Protocol.ALIPAY:
        alipay_trade_write(entries, out, pid=keys["seller_id"], day=day, exported_at=timezone.now())
    elif protocol == Protocol.BANK:
        bank_bill_write(entries, out)
    elif kind == BillKind.TRADE:
        channel = collecting_channel(protocol)
        rate = channel.fee_rate if channel is not None else ZERO
        wechat_trade_write(entries, out, appid=keys["appid"], mchid=_merchant_id(keys), fee_rate=rate)
    else:
        wechat_fund_flow_write(entries, out, mchid=_merchant_id(keys))


def bill_publish(*, protocol: str, kind: str, day: date) -> list[SandboxBillRule]:
    """The rules the bill about to be served plays; ``BillNotPublished`` for a day to come or
    while a ``not_ready`` rule holds it back. A day's bill is out from that day on."""
    if day > timezone.now().astimezone(CHINA).date():
        raise BillNotPublished(f"{protocol} {kind} bill of {day} is not out before that day")
    return bill_rules_take(protocol=protocol, bill_kind=kind, bill_date=day)


def bill_store(*, protocol: str, kind: str, day: date, compress: bool) -> StoredBill:
    """Publish the bill into a file a download token names (gzipped when ``compress``), and the
    SHA1 of the bill itself. ``BillNotPublished`` when it is not out."""
    rules = bill_publish(protocol=protocol, kind=kind, day=day)
    _prune()
    token = secrets.token_urlsafe(32)
    path = STORE / token
    try:
        with path.open("xb") as file:
            if compress:
                with gzip.GzipFile(filename="", mode="wb", fileobj=file, mtime=0) as compressed:
                    hashing = HashingWriter(compressed, "sha1")
                    bill_write(protocol, kind, day, hashing, rules=rules)
            else:
                hashing = HashingWriter(file, "sha1")
                bill_write(protocol, kind, day, hashing, rules=rules)
    except BaseException:
        path.unlink(missing_ok=True)  # No link names it: nobody may download half a bill.
        raise
    return StoredBill(token=token, sha1=hashing.hexdigest())


def bill_stored_open(token: str) -> BinaryIO | None:
    """The stored bill a download token names, open for reading; None for an unknown or expired one."""
    if not _TOKEN.match(token):
        return None
    path = STORE / token
    try:
        if time.time() - path.stat().st_mtime > KEEP_SECONDS:
            return None
        return path.open("rb")
    except FileNotFoundError:
        return None


def _prune() -> None:
    STORE.mkdir(parents=True, exist_ok=True)
    for path in STORE.iterdir():
        try:
            if time.time() - path.stat().st_mtime > KEEP_SECONDS:
                path.unlink()
        except FileNotFoundError:
            continue  # Another process pruned it first.


def _merchant_id(keys: dict) -> str:
    return str(keys.get("mchid") or keys["mch_id"])
