"""Told to, the sandbox serves a bill that differs from its books in one way at a time, and the
file stays well-formed: the channel's own parser (payments.channels) reads it, summary and all
(docs/RECONCILIATION.md, "The sandbox's bills")."""

import gzip
import hashlib
import io
from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model

from config.tests.staff import otp_login
from payments.channels.bills import BillKind as LineBillKind
from payments.channels.bills import BillLine, LineStatus, bill_parse
from payments.sandbox.bill_rules import BillNotPublished, BillRuleRefused, bill_rule_add
from payments.sandbox.bills import bill_publish, bill_write
from payments.sandbox.models import BillDifference, SandboxBillRule
from payments.sandbox.tests.bill_helpers import (
    ALIPAY,
    BANK,
    BILLS,
    DAY,
    V2,
    V3,
    at,
    books_of_the_day,
    paid,
    paid_out,
    payout_day,
    refunded,
    trade_day,
    v3_download,
    v3_get,
    v3_platform_verified,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("next_morning")]

D = Decimal
CENT = D("0.01")
PLAYABLE = [
    (protocol, kind, difference)
    for protocol, kind in BILLS
    for difference in BillDifference
    if difference != BillDifference.NOT_READY
    and not (
        difference == BillDifference.WRONG_STATUS and (protocol == ALIPAY or (kind == "payout" and protocol != BANK))
    )
    and not (difference == BillDifference.WRONG_FEE and kind == "payout" and protocol != BANK)
]


def served(protocol: str, kind: str, day: date = DAY) -> list[BillLine]:
    """The bill the sandbox serves now (its rules played), read by the channel's own parser."""
    out = io.BytesIO()
    bill_write(protocol, kind, day, out, rules=bill_publish(protocol=protocol, kind=kind, day=day))
    out.seek(0)
    return list(bill_parse(protocol, out, LineBillKind(kind)))


def orders(lines: list[BillLine]) -> list[str]:
    """The order numbers of the lines, each once (a returned payout may read as two lines)."""
    return list(dict.fromkeys(line.order_no for line in lines))


def rule(protocol: str, kind: str, difference: str, **extra) -> SandboxBillRule:
    return bill_rule_add(protocol=protocol, bill_kind=kind, bill_date=DAY, difference=difference, **extra)


@pytest.mark.parametrize(("protocol", "kind", "difference"), PLAYABLE)
def test_every_difference_leaves_every_bill_well_formed(protocol, kind, difference):
    # Given a day of books and a rule that changes its bill
    books_of_the_day(protocol, kind)
    truth = served(protocol, kind)
    rule(protocol, kind, difference)

    # When the bill is served, then the parser reads all of it (the summary agrees) and it differs
    assert served(protocol, kind) != truth


def test_missing_drops_the_first_line_then_the_bill_is_whole_again_when_the_rule_runs_out():
    trade_day(V3)
    truth = served(V3, "trade")
    rule(V3, "trade", BillDifference.MISSING, remaining=1)

    assert [line.order_no for line in served(V3, "trade")] == ["R20261206000001"]
    assert [line.order_no for line in served(V3, "trade")] == [line.order_no for line in truth]


def test_a_rule_with_an_order_number_changes_that_line_only():
    payout_day(BANK)
    rule(BANK, "payout", BillDifference.MISSING, order_no="W20261206000002")

    assert orders(served(BANK, "payout")) == ["W20261206000001", "W20261206000003"]


def test_a_rule_changes_its_protocol_kind_and_day_only():
    trade_day(V3)
    trade_day(V2)
    bill_rule_add(protocol=V3, bill_kind="trade", bill_date=DAY - timedelta(days=3), difference="missing")
    rule(V2, "trade", BillDifference.MISSING)
    rule(V3, "payout", BillDifference.MISSING)

    assert len(served(V3, "trade")) == 2


def test_extra_adds_a_line_for_an_order_number_the_back_office_never_made():
    payout_day(BANK)

    rule(BANK, "payout", BillDifference.EXTRA)
    blank = served(BANK, "payout")
    rule(BANK, "payout", BillDifference.EXTRA, order_no="W99999999", remaining=1)
    named = served(BANK, "payout")

    assert orders(blank)[:2] == ["W20261206000001", "XW20261206000001"]
    assert blank[1].channel_reference == f"X{blank[0].channel_reference}"
    assert (blank[1].amount, blank[1].fee, blank[1].status) == (D("12.30"), D("0.10"), LineStatus.SUCCESS)
    assert sorted(orders(named)) == [
        "W20261206000001",
        "W20261206000002",
        "W20261206000003",
        "W99999999",
        "XW20261206000001",
    ]


def test_extra_on_a_day_without_lines_makes_one_up():
    rule(ALIPAY, "trade", BillDifference.EXTRA)

    (line,) = served(ALIPAY, "trade")

    assert (line.order_no, line.amount, line.fee) == ("X20261206000001", D("1.00"), D("0.01"))
    assert line.occurred_at == at("2026-12-06 12:00:00")


def test_wrong_amount_adds_a_cent_to_the_line_and_the_summary_follows():
    trade_day(V3)
    rule(V3, "trade", BillDifference.WRONG_AMOUNT, order_no="R20261206000001")

    payment, refund = served(V3, "trade")

    assert (payment.amount, refund.amount) == (D("100.00"), D("10.01"))


def test_wrong_status_flips_a_wechat_payment_to_payerror_and_a_bank_payout_to_failed_without_fee():
    trade_day(V3)
    payout_day(BANK)
    rule(V3, "trade", BillDifference.WRONG_STATUS)
    rule(BANK, "payout", BillDifference.WRONG_STATUS)

    payment = served(V3, "trade")[0]
    payout = served(BANK, "payout")[0]

    assert (payment.order_no, payment.status, payment.fee) == ("P20261206000001", LineStatus.FAILED, D("0.00"))
    assert (payout.order_no, payout.status, payout.fee) == ("W20261206000001", LineStatus.FAILED, D("0.00"))


def test_wrong_status_passes_over_lines_that_did_not_succeed():
    payout_day(BANK)
    rule(BANK, "payout", BillDifference.WRONG_STATUS, order_no="W20261206000003")

    last_status = {line.order_no: line.status for line in served(BANK, "payout")}
    assert list(last_status.values()) == [LineStatus.SUCCESS, LineStatus.RETURNED, LineStatus.FAILED]


def test_wrong_fee_adds_a_cent_to_the_fee():
    trade_day(ALIPAY)
    rule(ALIPAY, "trade", BillDifference.WRONG_FEE, order_no="R20261206000001")

    assert [line.fee for line in served(ALIPAY, "trade")] == [D("0.60"), D("-0.05")]


@pytest.mark.parametrize(
    ("protocol", "kind", "difference", "reason"),
    [
        (ALIPAY, "trade", BillDifference.WRONG_STATUS, "no status"),
        (V3, "payout", BillDifference.WRONG_STATUS, "no status"),
        (V2, "payout", BillDifference.WRONG_FEE, "no fee"),
        (BANK, "trade", BillDifference.MISSING, "has no trade bill"),
        (ALIPAY, "payout", BillDifference.WRONG_FEE, "no fee"),
        (ALIPAY, "payout", BillDifference.WRONG_STATUS, "no status"),
    ],
)
def test_a_difference_the_bill_cannot_carry_is_refused_with_the_reason(protocol, kind, difference, reason):
    with pytest.raises(BillRuleRefused, match=reason):
        rule(protocol, kind, difference)

    assert not SandboxBillRule.objects.exists()


def test_next_day_moves_a_line_just_after_the_next_midnight():
    # Given DAY's payouts and two lines told to move to the next day's bill
    payout_day(BANK)
    rule(BANK, "payout", BillDifference.NEXT_DAY)
    rule(BANK, "payout", BillDifference.NEXT_DAY, order_no="W20261206000003")

    # When DAY's bill and the next day's are served (the next day's first, as may happen)
    next_day = served(BANK, "payout", DAY + timedelta(days=1))
    day = served(BANK, "payout")

    # Then the lines left DAY's bill and open the next day's, a second apart
    assert orders(day) == ["W20261206000002"]
    assert [(line.order_no, line.occurred_at) for line in next_day[:2]] == [
        ("W20261206000001", at("2026-12-07 00:00:01")),
        ("W20261206000003", at("2026-12-07 00:00:02")),
    ]
    assert [line.order_no for line in next_day[2:]] == ["W20261207000001"]


def test_not_ready_holds_the_bill_back_and_the_other_rules_wait_for_a_bill_that_is_served():
    trade_day(V3)
    rule(V3, "trade", BillDifference.MISSING, remaining=1)
    rule(V3, "trade", BillDifference.NOT_READY, remaining=1)

    with pytest.raises(BillNotPublished):
        served(V3, "trade")
    first, second = served(V3, "trade"), served(V3, "trade")

    assert (len(first), len(second)) == (1, 2)


def test_a_difference_reaches_the_merchant_through_the_channels_endpoint_with_a_true_hash():
    trade_day(V3)
    rule(V3, "trade", BillDifference.WRONG_AMOUNT)

    link = v3_platform_verified(v3_get("v3/bill/tradebill?bill_date=2026-12-06&bill_type=ALL&tar_type=GZIP"))
    bill = gzip.decompress(v3_download(link["download_url"]))

    assert link["hash_value"] == hashlib.sha1(bill).hexdigest()  # noqa: S324 - WeChat's hash
    lines = list(bill_parse(V3, io.BytesIO(bill), LineBillKind.TRADE))
    assert lines[0].amount == D("100.01")
    assert urlsplit(link["download_url"]).path == "/sandbox/wechat_v3/v3/billdownload/file"


def test_a_rule_is_added_in_the_admin_and_one_the_bill_cannot_carry_is_refused_there(client):
    otp_login(client, get_user_model().objects.create_superuser("root", password="pw-for-tests-only"))
    form = {"protocol": "alipay", "bill_kind": "trade", "bill_date": "2026-12-06", "order_no": "", "remaining": "1"}

    refused = client.post("/admin/sandbox/sandboxbillrule/add/", {**form, "difference": "wrong_status"})
    added = client.post("/admin/sandbox/sandboxbillrule/add/", {**form, "difference": "wrong_fee"})

    assert "have no status to get wrong" in refused.content.decode()
    assert added.status_code == 302
    assert SandboxBillRule.objects.get().difference == BillDifference.WRONG_FEE


def test_the_books_of_the_day_are_what_the_sandbox_recorded():
    """Lines come from the records of the day: the order of booking, refunds beside payments."""
    payment = paid(V2, "P20261206000007", "20.00", "2026-12-06 23:59:59")
    refunded(payment, "R20261206000007", "20.00", "2026-12-07 00:00:00")
    paid_out(V2, "W20261206000007", "2.00", "2026-12-06 08:00:00")

    assert [line.order_no for line in served(V2, "trade")] == ["P20261206000007"]
    assert [line.order_no for line in served(V2, "trade", DAY + timedelta(days=1))] == ["R20261206000007"]
    assert [line.order_no for line in served(V2, "payout")] == ["W20261206000007"]
