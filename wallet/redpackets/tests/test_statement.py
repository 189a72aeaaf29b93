"""Red packets on the statement and their status codes (wallet.statements, wallet.redpackets.reasons)."""

import pytest
from django.utils import translation

from wallet.redpackets import services

pytestmark = pytest.mark.django_db

ENTRIES = "/api/v1/wallet/entries/"


def test_the_sender_and_the_grabber_see_who_the_packet_was_to_and_from(make_user, send_packet, api_client_for):
    alice, bob = make_user("alice"), make_user("bob")
    packet = send_packet(alice, "6.66", 1, recipient=bob)
    services.redpacket_grab(packet=packet, user=bob)

    sent = api_client_for(alice).get(ENTRIES).json()["results"][0]
    [grabbed] = api_client_for(bob).get(ENTRIES).json()["results"]

    assert (sent["kind"], sent["counterparty"], sent["description"]) == ("redpacket_send", "bob", "Red packet to bob")
    assert (grabbed["kind"], grabbed["counterparty"], grabbed["description"]) == (
        "redpacket_grab",
        "alice",
        "Red packet from alice",
    )
    with translation.override("zh-hans"):
        grabbed_zh = api_client_for(bob).get(ENTRIES, HTTP_ACCEPT_LANGUAGE="zh-hans").json()["results"][0]
    assert grabbed_zh["description"] == "来自 alice 的红包"


def test_a_packet_to_a_group_names_the_group(make_user, make_group, send_packet, api_client_for):
    alice, bob = make_user("alice"), make_user("bob")
    group = make_group(alice, bob, name="family")
    send_packet(alice, "3.00", 2, group=group)

    sent = api_client_for(alice).get(ENTRIES).json()["results"][0]

    assert (sent["counterparty"], sent["description"]) == ("family", "Red packet to family")


def test_an_open_packet_has_a_status_code_and_message(make_user, send_packet, api_client_for):
    alice, bob = make_user("alice"), make_user("bob")
    packet = send_packet(alice, "6.66", 1, recipient=bob)
    url = f"/api/v1/red-packets/{packet.packet_no}/"

    english = api_client_for(alice).get(url).json()
    with translation.override("zh-hans"):
        chinese = api_client_for(alice).get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").json()

    assert (english["status"], english["status_code"]) == ("open", "open")
    assert english["status_message"] == "Open: shares can be grabbed until it expires."
    assert chinese["status_message"] == "可领取：红包过期前均可领取。"
