"""Many grabbers at once on one packet, on real connections: the share rows hold the line."""

from collections import Counter
from decimal import Decimal

import pytest
from django.db.models import Count, Sum

from wallet.audit import ledger_audit
from wallet.redpackets import selectors, services, store
from wallet.redpackets.models import RedPacket, RedPacketShare
from wallet.redpackets.tests.helpers import many_users, redpacket_keys_delete, run_pooled

pytestmark = pytest.mark.django_db(transaction=True)

# Far below PostgreSQL's max_connections, which other test runs share.
POOL = 16


def grabbed_summary(packet: RedPacket) -> dict:
    shares = RedPacketShare.objects.filter(packet=packet, grabbed_by__isnull=False)
    return shares.aggregate(count=Count("id"), users=Count("grabbed_by", distinct=True), total=Sum("amount"))


def test_a_thousand_concurrent_grabbers_of_a_hundred_shares_get_exactly_a_hundred_paid_once(
    alice, make_group, send_packet
):
    # Given a group packet of 200.00 in 100 lucky shares and 1,000 members who grab at once
    grabbers = many_users(1000)
    group = make_group(alice, *grabbers)
    packet = send_packet(alice, "200.00", 100, group=group)

    # When each of them grabs once, from a pool of 16 connections
    outcomes = run_pooled(
        grabbers,
        lambda user: "grabbed" if services.redpacket_grab(packet=packet, user=user).created else "again",
        workers=POOL,
    )

    # Then exactly 100 got a share and 900 were told it is empty, nobody twice, the sum exact
    assert Counter(outcomes) == {"grabbed": 100, "red_packet_empty": 900}
    assert grabbed_summary(packet) == {"count": 100, "users": 100, "total": Decimal("200.00")}
    assert RedPacketShare.objects.filter(packet=packet, transfer__isnull=True).count() == 0
    assert RedPacket.objects.get(pk=packet.pk).status == RedPacket.Status.FINISHED
    # And the ledger is clean, and escrow holds exactly what open shares still owe (nothing)
    assert ledger_audit() == []
    assert selectors.escrow_check().balance == Decimal("0.00")
    assert selectors.escrow_check().matches


def test_redis_flushed_mid_packet_is_rebuilt_and_every_share_is_grabbed_exactly_once(
    alice, make_group, send_packet, monkeypatch
):
    # Given a packet of 100 shares and 300 grabbers, of whom the 40th wipes the packet's Redis
    # keys (a flush or failover) while the others keep grabbing
    grabbers = many_users(300)
    group = make_group(alice, *grabbers)
    packet = send_packet(alice, "100.00", 100, group=group)
    flusher = grabbers[40]
    loads: list[list[int]] = []
    load = store.packet_load

    def load_recorded(**kwargs) -> None:
        loads.append(list(kwargs["share_ids"]))
        load(**kwargs)

    monkeypatch.setattr(store, "packet_load", load_recorded)

    def grab(user) -> str:
        if user == flusher:
            redpacket_keys_delete()
        return "grabbed" if services.redpacket_grab(packet=packet, user=user).created else "again"

    # When they all grab
    outcomes = run_pooled(grabbers, grab, workers=POOL)

    # Then the list was rebuilt from the database, with fewer shares than at send, and each
    # share went to one user, once
    assert loads and 0 < len(loads[0]) < 100
    assert Counter(outcomes) == {"grabbed": 100, "red_packet_empty": 200}
    assert grabbed_summary(packet) == {"count": 100, "users": 100, "total": Decimal("100.00")}
    assert ledger_audit() == []
    assert selectors.escrow_check().matches
    assert RedPacket.objects.get(pk=packet.pk).status == RedPacket.Status.FINISHED


def test_one_user_grabbing_from_many_connections_at_once_gets_one_share(alice, bob, make_group, send_packet):
    # Given a packet of 5 shares for a group
    group = make_group(alice, bob)
    packet = send_packet(alice, "5.00", 5, group=group)

    # When bob grabs 20 times at once
    outcomes = run_pooled(
        range(20), lambda _: str(services.redpacket_grab(packet=packet, user=bob).share.pk), workers=10
    )

    # Then every answer that is not "in progress, ask again" names the same one share
    shares = RedPacketShare.objects.filter(packet=packet, grabbed_by=bob)
    assert shares.count() == 1
    assert set(outcomes) - {"conflict"} == {str(shares.get().pk)}
    # And the other four are still there to grab, in Redis and in the database
    assert sorted(store.packet_shares(packet_id=packet.pk)) == sorted(
        selectors.unclaimed_shares(packet_id=packet.pk).values_list("pk", flat=True)
    )
    assert ledger_audit() == []


def test_two_rebuilds_at_once_after_a_flush_load_each_share_once(alice, bob, make_group, send_packet):
    # Given a packet of 30 shares whose Redis keys were flushed
    group = make_group(alice, bob)
    packet = send_packet(alice, "30.00", 30, group=group)
    redpacket_keys_delete()

    # When eight rebuilds run at once
    run_pooled(range(8), lambda _: str(services.redpacket_store_rebuild(packet_id=packet.pk)), workers=8)

    # Then the list holds each unclaimed share exactly once
    loaded = store.packet_shares(packet_id=packet.pk)
    assert sorted(loaded) == sorted(RedPacketShare.objects.filter(packet=packet).values_list("pk", flat=True))
    assert len(loaded) == 30


def test_the_expiry_refund_racing_a_crowd_of_grabbers_pays_each_share_once_to_a_grabber_or_the_sender(
    alice, make_group, send_packet
):
    # Given a packet of 100 shares and 300 grabbers, of whom the 60th finds the packet expired
    # and runs the expiry refund while the others keep grabbing
    grabbers = many_users(300)
    group = make_group(alice, *grabbers)
    packet = send_packet(alice, "100.00", 100, group=group)
    expirer = grabbers[60]

    def grab_or_expire(user) -> str:
        if user == expirer:
            RedPacket.objects.filter(pk=packet.pk).update(expires_at=packet.created_at)
            return services.redpacket_expire(packet_id=packet.pk).status
        return "grabbed" if services.redpacket_grab(packet=packet, user=user).created else "again"

    run_pooled(grabbers, grab_or_expire, workers=POOL)

    # Then every share went exactly once: to a grabber (with its posting) or back to alice
    shares = RedPacketShare.objects.filter(packet=packet)
    paid = shares.filter(grabbed_by__isnull=False)
    refunded = shares.filter(refunded=True)
    assert not paid.filter(refunded=True).exists()
    assert paid.count() + refunded.count() == 100
    assert paid.filter(transfer__isnull=True).count() == 0
    paid_sum = paid.aggregate(total=Sum("amount"))["total"] or Decimal("0.00")
    refunded_sum = refunded.aggregate(total=Sum("amount"))["total"] or Decimal("0.00")
    assert paid_sum + refunded_sum == Decimal("100.00")
    assert RedPacket.objects.get(pk=packet.pk).refunded_amount == refunded_sum
    # And escrow holds nothing for the packet, and the ledger is clean
    assert selectors.escrow_check().matches
    assert ledger_audit() == []
