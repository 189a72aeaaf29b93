"""Our adapters fetch each bill from the sandbox over real HTTP and their parsers read it: the two
halves of the contract of docs/RECONCILIATION.md, "Bill formats", meet."""

from decimal import Decimal
from importlib import import_module

import pytest
import time_machine

from payments.channels.bills import BillKind as LineBillKind
from payments.channels.bills import BillNotReady, LineStatus, bill_parse
from payments.channels.models import ChannelAdapter
from payments.channels.registry import PACKAGES
from payments.sandbox.bill_rules import bill_rule_add
from payments.sandbox.keys import keys_for
from payments.sandbox.models import BillDifference, BillKind
from payments.sandbox.tests.bill_helpers import BANK, BILLS, DAY, NEXT_MORNING, V3, books_of_the_day

D = Decimal


@pytest.fixture
def adapter_of(live_server):
    def adapter(protocol: str):
        package = import_module(PACKAGES[ChannelAdapter(protocol)])
        return package.adapter_for_sandbox(
            keys_for(protocol), base_url=f"{live_server.url}/sandbox/{protocol}", read_timeout=10
        )

    return adapter


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("protocol", "kind"), BILLS)
def test_each_adapter_downloads_and_reads_the_sandboxs_bill(adapter_of, tmp_path, protocol, kind):
    # Given the day's books on the protocol, and one line the sandbox is told to get wrong
    with time_machine.travel(NEXT_MORNING, tick=True):
        books_of_the_day(protocol, kind)
        bill_rule_add(protocol=protocol, bill_kind=kind, bill_date=DAY, difference=BillDifference.WRONG_AMOUNT)

        # When our adapter fetches the bill and the channel's parser reads it
        download = adapter_of(protocol).bill_download(DAY, LineBillKind(kind), tmp_path)
        with download.path.open("rb") as stream:
            lines = list(bill_parse(protocol, stream, LineBillKind(kind)))

    # Then every signature, hash and summary held, and the lines are the day's (one a cent off)
    if kind == BillKind.TRADE:
        expected, first_amount = ["P20261206000001", "R20261206000001"], D("100.01")
    else:  # a failed payout moved no money: only the bank lists it
        expected, first_amount = ["W20261206000001", "W20261206000002", "W20261206000003"], D("12.31")
        expected = expected if protocol == BANK else expected[:2]
    assert list(dict.fromkeys(line.order_no for line in lines)) == expected
    assert (lines[0].amount, lines[0].status) == (first_amount, LineStatus.SUCCESS)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("protocol", "kind"), BILLS)
def test_each_adapter_hears_not_published_yet(adapter_of, tmp_path, protocol, kind):
    with time_machine.travel(NEXT_MORNING, tick=True):
        bill_rule_add(protocol=protocol, bill_kind=kind, bill_date=DAY, difference=BillDifference.NOT_READY)

        with pytest.raises(BillNotReady):
            adapter_of(protocol).bill_download(DAY, LineBillKind(kind), tmp_path)

    assert list(tmp_path.iterdir()) == []


@pytest.mark.django_db(transaction=True)
def test_a_v3_bill_of_a_day_to_come_is_not_published(adapter_of, tmp_path):
    with time_machine.travel(NEXT_MORNING, tick=True), pytest.raises(BillNotReady):
        adapter_of(V3).bill_download(DAY.replace(day=8), LineBillKind.TRADE, tmp_path)
