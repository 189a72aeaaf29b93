"""The sandbox serves each channel's bill of a day in the channel's file format."""

import csv
import io
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from payments.sandbox import engine
from payments.sandbox.models import Scenario

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def day_of_payouts():
    """One success and one failure on each protocol, finished today."""
    for protocol in ("wechat_v3", "wechat_v2", "bank"):
        engine.payout_receive(protocol=protocol, order_no=f"{protocol}-1", amount=D("12.30"), payee_masked="**** 1234")
        engine.rule_add(
            protocol=protocol, scenario=Scenario.FAIL, failure_code="CARD_INVALID", order_no=f"{protocol}-2"
        )
        engine.payout_receive(protocol=protocol, order_no=f"{protocol}-2", amount=D("5.00"), payee_masked="**** 9876")
    return timezone.localdate()


@pytest.mark.parametrize("protocol", ["wechat_v3", "wechat_v2"])
def test_a_wechat_bill_has_back_ticked_fields_and_a_summary(day_of_payouts, protocol):
    response = Client().get(f"/sandbox/bills/{protocol}/{day_of_payouts}.csv")

    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8"))))
    header, first, second, summary_header, summary = rows
    assert header[2] == "商户单号"
    assert all(cell.startswith("`") for cell in first + second + summary)
    assert [cell.lstrip("`") for cell in first][2:7] == [
        f"{protocol}-1",
        first[3].lstrip("`"),
        "**** 1234",
        "12.30",
        "SUCCESS",
    ]
    assert [cell.lstrip("`") for cell in second][6:] == ["FAIL", "CARD_INVALID"]
    assert summary_header[0] == "总笔数"
    assert [cell.lstrip("`") for cell in summary] == ["2", "1", "12.30", "1", "5.00"]


def test_the_bank_bill_is_plain_csv_with_a_trailer(day_of_payouts):
    response = Client().get(f"/sandbox/bills/bank/{day_of_payouts}.csv")

    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8"))))
    assert rows[0] == ["finished_at", "order_no", "payout_id", "amount", "status", "fail_code"]
    assert [row[1] for row in rows[1:3]] == ["bank-1", "bank-2"]
    assert [row[4] for row in rows[1:3]] == ["SUCCESS", "FAILED"]
    assert rows[3] == ["TOTAL", "2", "", "17.30", "", ""]


def test_another_day_has_an_empty_bill_and_a_bad_request_is_404(day_of_payouts):
    empty = Client().get("/sandbox/bills/bank/2020-01-01.csv")

    assert list(csv.reader(io.StringIO(empty.content.decode()))) == [
        ["finished_at", "order_no", "payout_id", "amount", "status", "fail_code"],
        ["TOTAL", "0", "", "0.00", "", ""],
    ]
    assert Client().get("/sandbox/bills/alipay/2026-01-01.csv").status_code == 404
    assert Client().get("/sandbox/bills/bank/not-a-date.csv").status_code == 404
