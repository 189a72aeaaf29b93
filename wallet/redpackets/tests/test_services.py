"""Red packet services on the real database and Redis: send, grab, settle, recover."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db.models import Sum
from django.utils import timezone

from wallet import errors
from wallet import services as ledger
from wallet.audit import ledger_audit
from wallet.models import Account, Transfer
from wallet.redpackets import selectors, services, store, tasks
from wallet.redpackets.models import RedPacket, RedPacketShare, RedPacketTransition
from wallet.signals import red_packet_settled

pytestmark = pytest.mark.django_db

D = Decimal


def balance(user) -> Decimal:
    return Account.objects.get(owner=user, kind="user").balance


@pytest.fixture
def settled():
    """What ``red_packet_settled`` said, receiver connected for the test only."""
    calls: list[dict] = []

    def receiver(sender, **kwargs):
        calls.append(kwargs)

    red_packet_settled.connect(receiver)
    yield calls
    red_packet_settled.disconnect(receiver)


def later(packet: RedPacket):
    return time_machine.travel(packet.expires_at + timedelta(seconds=1), tick=False)


def test_sending_moves_the_amount_into_escrow_and_stores_the_shares_and_their_redis_list(
    alice, bob, send_packet, make_group, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        packet = send_packet(alice, "20.00", 7, group=make_group(alice, bob))

    shares = list(packet.shares.order_by("position"))
    assert [share.position for share in shares] == list(range(1, 8))
    assert sum(share.amount for share in shares) == D("20.00")
    assert balance(alice) == D("0.00")
    assert selectors.escrow_check().balance == D("20.00")
    assert store.packet_shares(packet_id=packet.pk) == [share.pk for share in shares]
    assert packet.status == RedPacket.Status.OPEN
    assert packet.expires_at == packet.created_at + timedelta(hours=24)
    assert packet.packet_no.startswith("RP") and len(packet.packet_no) == 25
    assert ledger_audit() == []


def test_sending_more_than_the_wallet_holds_creates_nothing(alice, bob, funded_account):
    funded_account(alice, "5.00")

    with pytest.raises(errors.InsufficientFunds):
        services.redpacket_send(
            sender=alice, recipient=bob, amount=D("5.01"), count=1, mode="lucky", idempotency_key="k"
        )

    assert not RedPacket.objects.exists()
    assert not RedPacketShare.objects.exists()
    assert balance(alice) == D("5.00")


@pytest.mark.parametrize(
    ("terms", "field"),
    [
        ({"count": 0}, "count"),
        ({"count": 101}, "count"),
        ({"amount": D("200.01")}, "amount"),
        ({"amount": D("0.05"), "count": 10}, "amount"),
        ({"mode": "equal", "amount": D("10.00"), "count": 3}, "amount"),
        ({"mode": "random"}, "mode"),
    ],
)
def test_terms_outside_the_rules_are_refused_on_their_field_and_move_nothing(alice, bob, funded_account, terms, field):
    funded_account(alice, "300.00")
    request = {"amount": D("10.00"), "count": 5, "mode": "lucky", **terms}

    with pytest.raises(errors.ValidationFailed) as refused:
        services.redpacket_send(sender=alice, recipient=bob, idempotency_key="k", **request)

    assert field in refused.value.fields
    assert not RedPacket.objects.exists()
    assert balance(alice) == D("300.00")


def test_a_packet_goes_to_one_user_or_to_a_group_the_sender_is_in(alice, bob, carol, make_group, funded_account):
    funded_account(alice, "10.00")
    send = {"sender": alice, "amount": D("1.00"), "count": 1, "mode": "lucky", "idempotency_key": "k"}

    for to, field in [
        ({}, "recipient"),
        ({"recipient": bob, "group": make_group(alice, bob)}, "recipient"),
        ({"recipient": alice}, "recipient"),
        ({"group": make_group(bob, carol)}, "group"),
    ]:
        with pytest.raises(errors.ValidationFailed) as refused:
            services.redpacket_send(**send, **to)
        assert field in refused.value.fields

    assert not RedPacket.objects.exists()


def test_the_same_idempotency_key_returns_the_first_packet_and_with_other_terms_is_a_conflict(
    alice, bob, funded_account
):
    funded_account(alice, "50.00")
    send = {"sender": alice, "recipient": bob, "count": 1, "mode": "lucky", "idempotency_key": "same"}
    first = services.redpacket_send(amount=D("10.00"), **send)

    again = services.redpacket_send(amount=D("10.00"), **send)
    with pytest.raises(errors.IdempotencyConflict):
        services.redpacket_send(amount=D("11.00"), **send)

    assert first.created and not again.created
    assert again.packet.pk == first.packet.pk
    assert balance(alice) == D("40.00")


def test_a_grab_pays_one_share_from_escrow_and_a_second_grab_answers_the_same_share(
    alice, bob, send_packet, make_group
):
    packet = send_packet(alice, "10.00", 3, group=make_group(alice, bob))

    first = services.redpacket_grab(packet=packet, user=bob)
    second = services.redpacket_grab(packet=packet, user=bob)

    assert first.created and not second.created
    assert second.share.pk == first.share.pk
    assert balance(bob) == first.share.amount
    transfer = Transfer.objects.get(idempotency_key=f"redpacket:share:{first.share.pk}")
    assert first.share.transfer_id == transfer.pk
    assert selectors.escrow_check().balance == D("10.00") - first.share.amount
    assert selectors.escrow_check().matches
    assert ledger_audit() == []


def test_only_the_recipient_of_a_one_to_one_packet_may_grab_it(alice, bob, carol, send_packet):
    packet = send_packet(alice, "1.00", 1, recipient=bob)

    with pytest.raises(errors.PermissionDenied):
        services.redpacket_grab(packet=packet, user=alice)
    with pytest.raises(errors.NotFound):
        services.redpacket_grab(packet=packet, user=carol)

    assert not RedPacketShare.objects.filter(grabbed_by__isnull=False).exists()


def test_in_a_group_the_sender_may_grab_their_own_packet_and_outsiders_may_not(
    alice, bob, carol, make_group, send_packet
):
    packet = send_packet(alice, "2.00", 2, group=make_group(alice, bob))

    grab = services.redpacket_grab(packet=packet, user=alice)
    with pytest.raises(errors.NotFound):
        services.redpacket_grab(packet=packet, user=carol)

    assert grab.created
    assert grab.share.grabbed_by == alice


def test_the_last_grab_finishes_the_packet_and_tells_the_apps_above_inside_its_transaction(
    alice, bob, carol, make_group, send_packet, settled
):
    packet = send_packet(alice, "3.00", 2, mode="equal", group=make_group(alice, bob, carol))

    services.redpacket_grab(packet=packet, user=bob)
    services.redpacket_grab(packet=packet, user=carol)
    with pytest.raises(errors.RedPacketEmpty):
        services.redpacket_grab(packet=packet, user=alice)

    packet = RedPacket.objects.get(pk=packet.pk)
    assert packet.status == RedPacket.Status.FINISHED
    assert balance(bob) == balance(carol) == D("1.50")
    assert settled == [
        {
            "signal": red_packet_settled,
            "sender_user_id": alice.pk,
            "event": "red_packet.finished",
            "data": {
                "packet_no": packet.packet_no,
                "amount": "3.00",
                "count": 2,
                "grabbed_count": 2,
                "grabbed_amount": "3.00",
                "refunded_amount": "0.00",
                "status": "finished",
                "created_at": packet.created_at.isoformat(),
                "finished_at": packet.finished_at.isoformat(),
            },
        }
    ]
    assert list(RedPacketTransition.objects.filter(object_id=packet.pk).values_list("transition", flat=True)) == [
        "send",
        "finish",
    ]


def test_a_grab_after_expiry_is_refused_as_expired(alice, bob, send_packet):
    packet = send_packet(alice, "1.00", 1, recipient=bob)

    with later(packet), pytest.raises(errors.RedPacketExpired):
        services.redpacket_grab(packet=packet, user=bob)

    assert balance(alice) == D("0.00")


def test_the_expiry_sweep_refunds_the_remainder_once_and_says_so(alice, bob, carol, make_group, send_packet, settled):
    # Given a packet of 4 equal shares of which one was grabbed
    packet = send_packet(alice, "4.00", 4, mode="equal", group=make_group(alice, bob, carol))
    services.redpacket_grab(packet=packet, user=bob)

    # When the sweep runs after its expiry, twice
    with later(packet):
        assert tasks.redpackets_settle() == 1
        assert tasks.redpackets_settle() == 0
        services.redpacket_expire(packet_id=packet.pk)

    # Then the three other shares went back to alice in one posting, and the packet is expired
    packet = RedPacket.objects.get(pk=packet.pk)
    assert packet.status == RedPacket.Status.EXPIRED
    assert packet.refunded_amount == D("3.00")
    assert balance(alice) == D("3.00")
    assert Transfer.objects.filter(kind="redpacket_refund").count() == 1
    assert packet.refund_transfer.idempotency_key == f"redpacket:{packet.packet_no}:refund"
    assert RedPacketShare.objects.filter(packet=packet, refunded=True).count() == 3
    assert [call["event"] for call in settled] == ["red_packet.expired"]
    assert settled[0]["data"]["grabbed_count"] == 1
    assert settled[0]["data"]["refunded_amount"] == "3.00"
    assert settled[0]["data"]["status"] == "expired"
    # And nobody can grab what was refunded; escrow owes nothing
    with later(packet), pytest.raises(errors.RedPacketExpired):
        services.redpacket_grab(packet=packet, user=carol)
    assert selectors.escrow_check().balance == D("0.00")
    assert ledger_audit() == []


def test_a_share_claimed_without_its_posting_is_posted_once_by_the_grab_sweep(alice, bob, send_packet):
    # Given a share claimed for bob whose posting never happened (a crash between the two)
    packet = send_packet(alice, "5.00", 1, recipient=bob)
    share = packet.shares.get()
    RedPacketShare.objects.filter(pk=share.pk).update(grabbed_by=bob, grabbed_at=timezone.now() - timedelta(hours=1))
    assert selectors.escrow_check().matches

    # When the sweep runs twice, and the service once more
    assert tasks.redpackets_complete_grabs() == 1
    assert tasks.redpackets_complete_grabs() == 0
    services.redpacket_share_pay(share_id=share.pk)

    # Then bob was paid once, by the share's ledger key, and the escrow is empty
    share.refresh_from_db()
    assert Transfer.objects.filter(idempotency_key=f"redpacket:share:{share.pk}").count() == 1
    assert share.transfer_id is not None
    assert balance(bob) == D("5.00")
    assert selectors.escrow_check().balance == D("0.00") == selectors.escrow_check().owed
    assert ledger_audit() == []


def test_the_settle_sweep_finishes_a_packet_whose_last_grab_did_not(alice, bob, send_packet, settled):
    packet = send_packet(alice, "1.00", 1, recipient=bob)
    RedPacketShare.objects.filter(packet=packet).update(grabbed_by=bob, grabbed_at=timezone.now())

    assert tasks.redpackets_settle() == 1

    assert RedPacket.objects.get(pk=packet.pk).status == RedPacket.Status.FINISHED
    assert [call["event"] for call in settled] == ["red_packet.finished"]


def test_a_grab_whose_posting_fails_puts_its_share_back_for_the_next_grabber(
    alice, bob, carol, make_group, send_packet, monkeypatch
):
    packet = send_packet(alice, "1.00", 1, group=make_group(alice, bob, carol))
    services.redpacket_store_rebuild(packet_id=packet.pk)
    share = packet.shares.get()

    def broken(share):
        raise errors.AccountFrozen("the ledger refused")

    with monkeypatch.context() as patched:
        patched.setattr(services, "_share_post", broken)
        with pytest.raises(errors.AccountFrozen):
            services.redpacket_grab(packet=packet, user=bob)

    assert store.packet_shares(packet_id=packet.pk) == [share.pk]
    assert RedPacketShare.objects.get(pk=share.pk).grabbed_by is None
    assert services.redpacket_grab(packet=packet, user=bob).share.pk == share.pk


def test_a_lost_redis_list_is_rebuilt_from_the_unclaimed_shares_by_the_next_grab(
    alice, bob, carol, make_group, send_packet
):
    packet = send_packet(alice, "6.00", 3, group=make_group(alice, bob, carol))
    bobs = services.redpacket_grab(packet=packet, user=bob).share
    store.packet_drop(packet_id=packet.pk)

    carols = services.redpacket_grab(packet=packet, user=carol).share

    assert carols.pk != bobs.pk
    left = RedPacketShare.objects.get(packet=packet, grabbed_by__isnull=True)
    assert store.packet_shares(packet_id=packet.pk) == [left.pk]
    assert not services.redpacket_grab(packet=packet, user=bob).created


def test_the_grab_sweep_puts_back_a_share_a_dead_grab_popped(alice, bob, make_group, send_packet):
    # Given a grab that popped a share and died before its commit
    packet = send_packet(alice, "2.00", 2, group=make_group(alice, bob))
    services.redpacket_store_rebuild(packet_id=packet.pk)
    store.share_pop(packet_id=packet.pk, user_id=bob.pk)

    # When the sweep runs
    tasks.redpackets_complete_grabs()

    # Then both shares are in the list again, and bob may grab
    assert sorted(store.packet_shares(packet_id=packet.pk)) == sorted(packet.shares.values_list("pk", flat=True))
    assert services.redpacket_grab(packet=packet, user=bob).created


def test_escrow_equals_what_the_shares_still_owe_through_a_packets_life(alice, bob, carol, make_group, send_packet):
    group = make_group(alice, bob, carol)
    second = send_packet(alice, "7.77", 3, group=group)
    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        first = send_packet(alice, "10.00", 5, group=group)
    services.redpacket_grab(packet=first, user=bob)
    services.redpacket_grab(packet=second, user=carol)
    assert selectors.escrow_check().matches

    with later(second):
        tasks.redpackets_settle()

    # The first packet's four unclaimed shares are all that escrow still holds
    unclaimed = RedPacketShare.objects.filter(packet=first, grabbed_by__isnull=True).aggregate(total=Sum("amount"))
    assert selectors.escrow_check().balance == unclaimed["total"] == selectors.escrow_check().owed
    assert unclaimed["total"] > D("0.00")
    assert ledger_audit() == []


def test_the_ledger_audit_names_an_escrow_that_disagrees_with_the_shares(alice, bob, send_packet, make_group):
    packet = send_packet(alice, "10.00", 2, mode="equal", group=make_group(alice, bob))
    assert ledger_audit() == []

    # A share marked refunded by hand, without the refund posting
    RedPacketShare.objects.filter(packet=packet, position=1).update(refunded=True)

    assert [str(v) for v in ledger_audit()] == [
        "[redpacket_escrow_equals_shares] escrow:redpacket: account escrow:redpacket: holds 10.00 "
        "but red packet shares still owe 5.00"
    ]


def test_a_finished_packet_whose_keys_were_lost_is_loaded_empty_and_still_answers_its_grabbers(
    alice, bob, carol, make_group, send_packet
):
    packet = send_packet(alice, "1.00", 1, group=make_group(alice, bob, carol))
    bobs = services.redpacket_grab(packet=packet, user=bob).share
    store.packet_drop(packet_id=packet.pk)

    with pytest.raises(errors.RedPacketEmpty):
        services.redpacket_grab(packet=packet, user=carol)
    again = services.redpacket_grab(packet=packet, user=bob)

    assert store.packet_is_loaded(packet_id=packet.pk)
    assert store.packet_shares(packet_id=packet.pk) == []
    assert again.share.pk == bobs.pk and not again.created


def test_a_receiver_that_fails_rolls_the_settlement_back_with_it(alice, bob, send_packet):
    # Given a packet past its expiry and a receiver of the signal that fails
    packet = send_packet(alice, "2.00", 1, recipient=bob)

    def failing(sender, **kwargs):
        raise RuntimeError("the outbox is down")

    red_packet_settled.connect(failing)
    try:
        with later(packet), pytest.raises(RuntimeError):
            services.redpacket_expire(packet_id=packet.pk)
    finally:
        red_packet_settled.disconnect(failing)

    # Then nothing of the settlement stayed: the signal is sent inside its transaction
    assert RedPacket.objects.get(pk=packet.pk).status == RedPacket.Status.OPEN
    assert not Transfer.objects.filter(kind="redpacket_refund").exists()
    assert not RedPacketShare.objects.filter(refunded=True).exists()


def test_a_grab_of_a_group_packet_costs_a_fixed_number_of_queries(
    alice, bob, carol, make_group, send_packet, django_assert_num_queries
):
    packet = send_packet(alice, "3.00", 3, group=make_group(alice, bob, carol))
    services.redpacket_store_rebuild(packet_id=packet.pk)
    ledger.account_for_user(user=bob)

    # membership; the transaction (a savepoint here, in a test); the claim; the grabber's and
    # the escrow's accounts; the posting in its savepoint (3); the share's transfer; release
    with django_assert_num_queries(10):
        services.redpacket_grab(packet=packet, user=bob)
