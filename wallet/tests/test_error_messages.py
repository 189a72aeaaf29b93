"""Error messages name only what the client knows (wallet.errors): an overdraft says "the
available balance", never the wallet's account id, and every message is translated."""

import re
from decimal import Decimal

import pytest
from django.utils import translation

from wallet import errors
from wallet import services as ledger

pytestmark = pytest.mark.django_db


def digits_of(*objects) -> set[str]:
    return {str(obj.pk) for obj in objects}


def numbers_in(text: str) -> set[str]:
    return set(re.findall(r"\d+", text))


def test_an_overdraft_by_the_ledger_names_no_account(make_user, funded_account):
    user = make_user("spender")
    funded_account(user, "5.00")
    account = ledger.account_for_user(user=user)

    with pytest.raises(errors.InsufficientFunds) as refused:
        ledger.hold_place(idempotency_key="too-much", account=account, amount=Decimal("6.00"))

    assert str(refused.value.message) == "The available balance is not enough."
    assert not numbers_in(str(refused.value.message))


def test_a_transfer_over_the_balance_answers_without_ids_in_both_languages(make_user, funded_account, api_client_for):
    sender, recipient = make_user("sender"), make_user("recipient")
    funded_account(sender, "5.00")
    client = api_client_for(sender)
    body = {"to": "recipient", "amount": "6.00"}

    english = client.post("/api/v1/transfers/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    with translation.override("zh-hans"):
        chinese = client.post(
            "/api/v1/transfers/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1", HTTP_ACCEPT_LANGUAGE="zh-hans"
        )

    assert english.status_code == chinese.status_code == 422
    assert english.json()["error"]["code"] == "insufficient_funds"
    message = english.json()["error"]["message"]
    ids = digits_of(sender, recipient, ledger.account_for_user(user=sender), ledger.account_for_user(user=recipient))
    assert not numbers_in(message) & ids, message
    assert "user:" not in message and "account" not in message.lower()
    assert chinese.json()["error"]["message"] == "可用余额不足。"
