"""Fixtures of the reconciliation tests: our orders in a final state with their ledger effects,
and bills written straight into the tables (the parsers have tests of their own)."""

import hashlib
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import count

import pytest
from django.utils import timezone

from payments.channels.models import Channel
from payments.conftest import (  # noqa: F401 - the payments fixtures, for flows through the services
    card_account,
    refunder,
    risk_rule,
    sandbox_secrets_once_per_process,
    shop,
    submit,
    throttle_history_cleared,
    withdrawal_in,
)
from payments.orders.models import PaymentOrder
from payments.tests.worker import celery_broker, celery_worker_process, sandbox_live  # noqa: F401 - live fixtures
from reconciliation.models import BillFile, BillLine
from reconciliation.tests.support import line_row
from wallet import services as ledger

D = Decimal
TRADE_CHANNEL = "wechat_pay"
PAYOUT_CHANNEL = "bank"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Stored bills go to the test's own folder."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def today() -> date:
    return timezone.localdate()


@pytest.fixture
def paid_order(make_user) -> Callable[..., PaymentOrder]:
    """A recharge of ``amount`` by a fresh user, in ``status``; a paid one is credited like the
    notify would (clearing -> wallet, key ``payment:<order_no>``)."""
    numbers = count(1)

    def make(amount: str, *, paid_at: datetime, status: str = "success", channel: str = TRADE_CHANNEL, fee=None):
        channel_row = Channel.objects.get(code=channel)
        order_no = f"PO{paid_at:%Y%m%d}{next(numbers):017d}"
        success = status == PaymentOrder.Status.SUCCESS
        order = PaymentOrder.objects.create(
            order_no=order_no,
            user=make_user(),
            business_type="recharge",
            method="wechat_native",
            channel=channel_row,
            client_type="web",
            subject="Recharge",
            amount=D(amount),
            fee=channel_row.fee_for(D(amount)) if fee is None else D(fee),
            status=status,
            idempotency_key=f"key-{order_no}",
            request_fingerprint="0" * 64,
            expires_at=paid_at + timedelta(hours=2),
            created_at=paid_at - timedelta(minutes=1),
            paid_at=paid_at if success else None,
            finished_at=paid_at if success or status in ("closed", "failed") else None,
            transaction_id=f"42000{order_no[-12:]}" if success else "",
        )
        if success:
            ledger.transfer_post(
                idempotency_key=f"payment:{order_no}",
                kind="recharge",
                legs=[
                    ledger.Leg(ledger.account_for_system(code=f"clearing:{channel}"), -D(amount)),
                    ledger.Leg(ledger.account_for_user(user=order.user), D(amount)),
                ],
                reference=order_no,
            )
        return order

    return make


@pytest.fixture
def bill() -> Callable[..., BillFile]:
    """A current bill of ``day`` with ``lines`` (dicts of BillLine fields; defaults fill the rest)."""
    hashes = count(1)

    def make(day: date, lines: list[dict], *, kind: str = "trade", channel: str = TRADE_CHANNEL) -> BillFile:
        channel_row = Channel.objects.get(code=channel)
        previous = BillFile.objects.filter(channel=channel_row, bill_date=day, kind=kind, status="current")
        previous.update(status=BillFile.Status.SUPERSEDED)
        rows = [line_row(number, line, day) for number, line in enumerate(lines, start=2)]
        bill_file = BillFile.objects.create(
            channel=channel_row,
            bill_date=day,
            kind=kind,
            sha256=hashlib.sha256(str(next(hashes)).encode()).hexdigest(),
            file=f"bills/test-{day}.csv",
            filename=f"test-{day}.csv",
            size=1,
            source=BillFile.Source.UPLOAD,
            line_count=len(rows),
            amount_total=sum((row.amount for row in rows), D("0.00")),
            fee_total=sum((row.fee or D("0.00") for row in rows), D("0.00")),
        )
        for row in rows:
            row.file = bill_file
        BillLine.objects.bulk_create(rows)
        return bill_file

    return make
