"""`manage.py demo_wallet` runs on every `make run` after `demo_users`: again, it changes nothing."""

from decimal import Decimal

import pytest
from django.core.management import call_command

from wallet.audit import ledger_audit
from wallet.campaigns.models import Reward
from wallet.models import Account, PeerTransfer, ReceiveCode
from wallet.redpackets.models import RedPacket, RedPacketShare

pytestmark = pytest.mark.django_db


def test_demo_wallet_twice_sends_once_and_leaves_something_to_grab_credit_and_pay(capsys):
    call_command("demo_users")

    call_command("demo_wallet")
    call_command("demo_wallet")

    # One transfer, one red packet with bob's share taken and two left, two pending rewards
    assert list(PeerTransfer.objects.values_list("sender__username", "recipient__username", "amount")) == [
        ("alice", "bob", Decimal("20.00"))
    ]
    packet = RedPacket.objects.get()
    assert (packet.sender.username, packet.amount, packet.count, packet.status) == ("alice", Decimal("8.88"), 3, "open")
    grabbed = RedPacketShare.objects.filter(packet=packet, grabbed_by__isnull=False)
    assert list(grabbed.values_list("grabbed_by__username", flat=True)) == ["bob"]
    rewards = sorted(Reward.objects.values_list("user__username", "amount", "status"))
    assert rewards == [
        ("bob", Decimal("8.88"), "pending"),
        ("carol", Decimal("1.23"), "pending"),
    ]
    # And carol has one open receive code, whose token the output shows
    code = ReceiveCode.objects.get(owner__username="carol")
    assert code.amount is None and not code.single_use
    assert "carol's receive code" in capsys.readouterr().out
    assert ledger_audit() == []
    # And alice, who only gave, has a balance the make run smoke test can count on
    assert Account.objects.get(owner__username="alice").balance == Decimal("971.12")
