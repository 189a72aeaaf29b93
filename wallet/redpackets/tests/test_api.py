"""Red packets over HTTP: send, look, grab, list, and refusals that change nothing."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine

from wallet.models import Account
from wallet.redpackets.models import RedPacket, RedPacketShare

pytestmark = pytest.mark.django_db

D = Decimal
URL = "/api/v1/red-packets/"


def send(client, body, key="key-1"):
    return client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def grab(client, packet_no):
    return client.post(f"{URL}{packet_no}/grab/", format="json")


def balance(user) -> Decimal:
    return Account.objects.get(owner=user, kind="user").balance


def test_sending_answers_the_packet_and_a_retry_with_the_same_key_answers_it_again(
    alice, bob, funded_account, api_client_for
):
    funded_account(alice, "50.00")
    client = api_client_for(alice)
    body = {"amount": "12.00", "count": 1, "mode": "equal", "recipient": "bob", "greeting": "恭喜发财"}

    first = send(client, body)
    again = send(client, body)
    other = send(client, {**body, "amount": "13.00"})

    assert first.status_code == 201
    packet = first.json()
    assert packet["amount"] == "12.00"
    assert packet["recipient"] == "bob" and packet["group"] is None
    assert packet["status"] == "open" and packet["finished_at"] is None
    assert packet["greeting"] == "恭喜发财"
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json() == packet
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_conflict"
    assert balance(alice) == D("38.00")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": "1.001"}, "amount"),
        ({"amount": "0"}, "amount"),
        ({"amount": 5}, "amount"),
        ({"amount": "200.01"}, "amount"),
        ({"count": 0}, "count"),
        ({"count": 101}, "count"),
        ({"count": "many"}, "count"),
        ({"count": 3}, "count"),  # a packet to one user has one share: only they may grab
        ({"mode": "random"}, "mode"),
        ({"mode": "equal", "amount": "10.00", "count": 3}, "amount"),
        ({"amount": "0.09", "count": 10}, "amount"),
        ({"recipient": "nobody"}, "recipient"),
        ({"recipient": None, "group": 999}, "group"),
        ({"recipient": None}, "recipient"),
        ({"recipient": "alice"}, "recipient"),
        ({"greeting": "x" * 101}, "greeting"),
    ],
)
def test_bad_input_is_a_400_on_its_field_and_changes_nothing(alice, bob, funded_account, api_client_for, body, field):
    funded_account(alice, "300.00")
    request = {"amount": "10.00", "count": 1, "mode": "lucky", "recipient": "bob", **body}
    request = {name: value for name, value in request.items() if value is not None}

    response = send(api_client_for(alice), request)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert field in response.json()["error"]["fields"]
    assert not RedPacket.objects.exists()
    assert balance(alice) == D("300.00")


def test_sending_without_an_idempotency_key_is_refused_before_anything_moves(
    alice, bob, funded_account, api_client_for
):
    funded_account(alice, "10.00")

    response = api_client_for(alice).post(
        URL, {"amount": "1.00", "count": 1, "mode": "lucky", "recipient": "bob"}, format="json"
    )

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["error"]["fields"]
    assert not RedPacket.objects.exists()


def test_sending_more_than_the_wallet_holds_is_insufficient_funds(alice, bob, funded_account, api_client_for):
    funded_account(alice, "1.00")

    response = send(api_client_for(alice), {"amount": "1.01", "count": 1, "mode": "lucky", "recipient": "bob"})

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "insufficient_funds"
    assert not RedPacket.objects.exists()


def test_a_group_packet_is_shown_to_members_with_the_grabs_once_they_grabbed_and_to_nobody_else(
    alice, bob, carol, make_user, make_group, send_packet, api_client_for
):
    dave = make_user("dave")
    packet = send_packet(alice, "9.00", 3, mode="equal", group=make_group(alice, bob, carol))
    grab(api_client_for(bob), packet.packet_no)
    detail = f"{URL}{packet.packet_no}/"

    as_sender = api_client_for(alice).get(detail).json()
    as_grabber = api_client_for(bob).get(detail).json()
    as_member = api_client_for(carol).get(detail).json()

    assert (
        as_sender["grabs"]
        == as_grabber["grabs"]
        == [{"user": "bob", "amount": "3.00", "grabbed_at": as_grabber["my_share"]["grabbed_at"]}]
    )
    assert as_sender["grabbed_count"] == 1 and as_sender["grabbed_amount"] == "3.00"
    assert as_sender["my_share"] is None
    assert as_member["grabs"] is None and as_member["my_share"] is None
    assert as_member["grabbed_count"] == 1
    assert api_client_for(dave).get(detail).status_code == 404
    assert api_client_for(dave).get(f"{URL}RP-not-a-number/").status_code == 404


def test_grabbing_twice_answers_the_same_share_first_201_then_200(alice, bob, send_packet, make_group, api_client_for):
    packet = send_packet(alice, "5.00", 2, group=make_group(alice, bob))
    client = api_client_for(bob)

    first = grab(client, packet.packet_no)
    second = grab(client, packet.packet_no)

    assert first.status_code == 201
    assert second.status_code == 200 and second["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    assert balance(bob) == D(first.json()["amount"])
    assert RedPacketShare.objects.filter(grabbed_by=bob).count() == 1


def test_grabbing_an_empty_or_expired_packet_is_refused_with_its_code(
    alice, bob, carol, make_group, send_packet, api_client_for
):
    group = make_group(alice, bob, carol)
    emptied = send_packet(alice, "1.00", 1, group=group)
    assert grab(api_client_for(bob), emptied.packet_no).status_code == 201
    expiring = send_packet(alice, "1.00", 1, group=group)

    empty = grab(api_client_for(carol), emptied.packet_no)
    with time_machine.travel(expiring.expires_at + timedelta(seconds=1), tick=False):
        expired = grab(api_client_for(carol), expiring.packet_no)

    assert empty.status_code == 422 and empty.json()["error"]["code"] == "red_packet_empty"
    assert expired.status_code == 422 and expired.json()["error"]["code"] == "red_packet_expired"
    assert not RedPacketShare.objects.filter(grabbed_by=carol).exists()


def test_the_sender_of_a_packet_to_one_user_may_not_grab_it_and_others_do_not_see_it(
    alice, bob, carol, send_packet, api_client_for
):
    packet = send_packet(alice, "1.00", 1, recipient=bob)

    assert grab(api_client_for(alice), packet.packet_no).status_code == 403
    assert grab(api_client_for(carol), packet.packet_no).status_code == 404
    assert not RedPacketShare.objects.filter(grabbed_by__isnull=False).exists()


def test_sent_and_received_are_newest_first_in_pages(alice, bob, send_packet, api_client_for):
    packets = [send_packet(alice, "1.00", 1, recipient=bob) for _ in range(3)]
    for packet in packets:
        grab(api_client_for(bob), packet.packet_no)

    sent = api_client_for(alice).get(f"{URL}sent/?page_size=2").json()
    sent_next = api_client_for(alice).get(sent["next"]).json()
    received = api_client_for(bob).get(f"{URL}received/").json()

    newest_first = [packet.packet_no for packet in reversed(packets)]
    assert [p["packet_no"] for p in sent["results"] + sent_next["results"]] == newest_first
    assert [r["packet_no"] for r in received["results"]] == newest_first
    assert received["results"][0] == {
        "packet_no": newest_first[0],
        "sender": "alice",
        "greeting": "",
        "amount": "1.00",
        "grabbed_at": received["results"][0]["grabbed_at"],
    }
    assert api_client_for(bob).get(f"{URL}sent/").json()["results"] == []
