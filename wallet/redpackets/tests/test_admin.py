"""The red packet admin: read-only money, escrow against the shares at the top of the list."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from wallet.redpackets import services
from wallet.redpackets.models import RedPacket, RedPacketShare

pytestmark = pytest.mark.django_db


@pytest.fixture
def auditor_client(staff_in, client_for):
    return client_for(staff_in("auditor"))


def test_the_packet_list_opens_with_escrow_equal_to_what_the_open_shares_owe(
    alice, bob, send_packet, make_group, auditor_client
):
    packet = send_packet(alice, "10.00", 4, group=make_group(alice, bob))
    services.redpacket_grab(packet=packet, user=bob)
    owed = sum(share.amount for share in RedPacketShare.objects.filter(packet=packet, grabbed_by__isnull=True))

    page = auditor_client.get(reverse("admin:wallet_redpacket_changelist")).content.decode()

    assert f"Escrow (escrow:redpacket) {owed}" in page
    assert f"owed by shares not yet paid or refunded {owed}" in page
    assert "equal" in page and "NOT EQUAL" not in page
    assert packet.packet_no in page


def test_the_list_says_not_equal_when_a_share_is_owed_that_escrow_does_not_hold(
    alice, bob, send_packet, make_group, auditor_client
):
    # Given a share marked refunded by hand, without the refund posting: escrow still holds it
    packet = send_packet(alice, "10.00", 2, group=make_group(alice, bob))
    RedPacketShare.objects.filter(packet=packet, position=1).update(refunded=True)

    page = auditor_client.get(reverse("admin:wallet_redpacket_changelist")).content.decode()

    assert "NOT EQUAL" in page


def test_packets_and_shares_are_read_only_even_for_a_superuser(
    alice, bob, send_packet, make_group, make_user, client_for
):
    packet = send_packet(alice, "3.00", 3, group=make_group(alice, bob))
    root = client_for(make_user("root", is_staff=True, is_superuser=True))

    page = root.get(reverse("admin:wallet_redpacket_change", args=[packet.pk]))
    share = packet.shares.first()
    edit = root.post(reverse("admin:wallet_redpacketshare_change", args=[share.pk]), {"amount": "9.00"})

    assert page.status_code == 200
    assert all(str(share.amount) in page.content.decode() for share in packet.shares.all())
    assert edit.status_code == 403
    assert root.get(reverse("admin:wallet_redpacket_add")).status_code == 403
    assert RedPacketShare.objects.get(pk=share.pk).amount == share.amount
    assert RedPacket.objects.count() == 1


def test_ledger_viewers_may_view_red_packets_auditors_export_their_transitions_and_nobody_edits():
    def red_packet_permissions(name: str) -> set[str]:
        group = Group.objects.get(name=name)
        return {
            p.codename
            for p in group.permissions.filter(
                content_type__app_label="wallet",
                content_type__model__in=["redpacket", "redpacketshare", "redpackettransition", "chatgroup"],
            )
        }

    viewing = {"view_redpacket", "view_redpacketshare", "view_redpackettransition"}
    assert red_packet_permissions("finance_reviewer") == viewing
    assert red_packet_permissions("finance_supervisor") == viewing
    assert red_packet_permissions("auditor") == viewing | {"export_redpackettransition"}
    assert red_packet_permissions("operations") == set()
