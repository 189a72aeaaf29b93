"""Fixtures of the red packet tests: users with money, groups, packets, a clean Redis."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import User

from wallet.redpackets import services
from wallet.redpackets.models import ChatGroup, ChatGroupMember, RedPacket
from wallet.redpackets.tests.helpers import redpacket_keys_delete


@pytest.fixture(autouse=True)
def clean_redpacket_keys():
    redpacket_keys_delete()
    yield
    redpacket_keys_delete()


@pytest.fixture
def make_group(make_user):
    def make(*members: User, name: str = "friends") -> ChatGroup:
        group = ChatGroup.objects.create(name=name, owner=members[0])
        ChatGroupMember.objects.bulk_create(ChatGroupMember(group=group, user=member) for member in members)
        return group

    return make


@pytest.fixture
def send_packet(funded_account):
    """A packet from ``sender`` (funded with its amount first unless ``fund`` is False)."""
    keys = iter(range(1, 1_000_000))

    def send(sender: User, amount: str, count: int, *, mode: str = "lucky", fund: bool = True, **to) -> RedPacket:
        if fund:
            funded_account(sender, amount)
        sending = services.redpacket_send(
            sender=sender,
            amount=Decimal(amount),
            count=count,
            mode=mode,
            idempotency_key=f"send-{next(keys)}",
            **to,
        )
        return sending.packet

    return send


@pytest.fixture
def carol(make_user):
    return make_user("carol")
