"""A transfer under review, posted or rejected answers a status code and a message the client
can show, in English and in Simplified Chinese (wallet.transfers.reasons, docs/WALLET.md)."""

import pytest
from django.utils import translation

from wallet.models import PeerTransfer
from wallet.transfers import services

pytestmark = pytest.mark.django_db


def read(client, transfer: PeerTransfer, language: str) -> dict:
    with translation.override(language):
        return client.get(f"/api/v1/transfers/{transfer.pk}/", HTTP_ACCEPT_LANGUAGE=language).json()


def test_a_held_transfer_is_under_review_until_staff_reject_it(sender, recipient, send, staff_in, api_client_for):
    held = send(sender, recipient, "2500.00")
    client = api_client_for(sender)

    english, chinese = read(client, held, "en"), read(client, held, "zh-hans")

    assert (english["status"], english["status_code"]) == ("under_review", "under_review")
    assert english["status_message"] == (
        "Held for review: the amount is reserved in the sender's wallet until staff decide."
    )
    assert chinese["status_message"] == "审核中：金额已在付款人钱包中冻结，待工作人员处理。"

    services.transfer_reject(transfer=held, actor=staff_in("finance_reviewer"), reason="unusual")

    english, chinese = read(client, held, "en"), read(client, held, "zh-hans")
    assert (english["status_code"], english["status_reason"]) == ("rejected", "unusual")
    assert english["status_message"] == "Rejected by review; the amount is back in the sender's wallet."
    assert chinese["status_message"] == "审核未通过，金额已退回付款人钱包。"


def test_a_posted_transfer_is_completed(sender, recipient, send, api_client_for):
    posted = send(sender, recipient, "8.00")

    english, chinese = read(api_client_for(recipient), posted, "en"), read(api_client_for(recipient), posted, "zh-hans")

    assert (english["status_code"], english["status_message"]) == ("completed", "The money has moved to the recipient.")
    assert chinese["status_message"] == "款项已转给收款人。"
