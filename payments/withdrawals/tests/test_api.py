"""Payout accounts and withdrawals over HTTP (docs/ARCHITECTURE.md §5, §9): money held and released, the
error envelope, idempotency, risk refusals, the throttle, filters and what never leaks."""

import copy
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import count

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from conftest import PAYMENT_PASSWORD
from payments.conftest import CARD_NUMBER, OPENID, OTHER_CARD_NUMBER
from payments.withdrawals import services
from payments.withdrawals.models import PayoutAccount, Withdrawal, WithdrawalStatus
from risk import services as risk_services
from risk.models import BlocklistEntry, RiskEvaluation
from wallet.models import Hold
from wallet.payment_password.services import payment_token_issue
from wallet.rest import throttles
from wallet.selectors import user_account, wallet_summary

pytestmark = pytest.mark.django_db

D = Decimal

PAYOUT_ACCOUNTS = "/api/v1/payout-accounts/"
WITHDRAWALS = "/api/v1/withdrawals/"
HOLDER_NAME = "张三丰"
CARD_BODY = {"kind": "bank_card", "card_number": CARD_NUMBER, "holder_name": HOLDER_NAME, "bank_code": "icbc"}
MISSING = object()
_keys = count(1)


def withdraw(client: APIClient, payout_account, amount="100.00", *, key: str | None = None):
    body = {"payout_account": payout_account, "amount": amount}
    return client.post(WITHDRAWALS, body, format="json", HTTP_IDEMPOTENCY_KEY=key or f"key-{next(_keys)}")


def detail_url(order_no: str) -> str:
    return f"{WITHDRAWALS}{order_no}/"


def cancel_url(order_no: str) -> str:
    return f"{WITHDRAWALS}{order_no}/cancel/"


def holds_of(user):
    account = user_account(user=user)
    return Hold.objects.filter(account=account) if account else Hold.objects.none()


def assert_nothing_written(user, *, available: str, evaluations: int = 0) -> None:
    """No order, no hold and the whole balance still available; ``evaluations`` risk records."""
    assert not Withdrawal.objects.filter(user=user).exists()
    assert not holds_of(user).exists()
    summary = wallet_summary(user=user)
    assert (summary.available, summary.frozen) == (D(available), D("0.00"))
    assert RiskEvaluation.objects.filter(user_id=user.pk).count() == evaluations


def assert_no_secrets(*responses) -> None:
    """Neither the card number, the openid nor the holder's name in any response body."""
    for response in responses:
        text = response.content.decode()
        for secret in (CARD_NUMBER, OTHER_CARD_NUMBER, OPENID, HOLDER_NAME, "\\u5f20\\u4e09\\u4e30"):
            assert secret not in text, f"{secret!r} leaked in {response.request['PATH_INFO']}"


def error_of(response) -> dict:
    return response.json()["error"]


# Happy path


def test_a_bound_card_withdrawal_of_100_is_approved_priced_and_held(alice, funded_account, api_client_for):
    # given a wallet of 500.00 and a client
    funded_account(alice, "500.00")
    client = api_client_for(alice)

    # when alice binds her card and withdraws 100.00 to it
    bound = client.post(PAYOUT_ACCOUNTS, CARD_BODY, format="json")
    submitted = withdraw(client, bound.json()["id"], "100.00")

    # then the card is stored masked and the order is approved at once with its fee
    assert bound.status_code == 201
    assert submitted.status_code == 201, submitted.json()
    assert "Idempotent-Replayed" not in submitted
    body = submitted.json()
    assert body["status"] == "approved"
    assert (body["amount"], body["fee"], body["actual_amount"]) == ("100.00", "0.10", "99.90")
    assert body["currency"] == "CNY" and body["channel"] == "bank"
    assert body["order_no"].startswith("WD")
    assert body["approved_at"] is not None and body["finished_at"] is None
    assert body["payout_account"]["id"] == bound.json()["id"]
    assert body["payout_account"]["display"] == f"ICBC **** {CARD_NUMBER[-4:]}"
    # and the database holds exactly that order and its hold
    withdrawal = Withdrawal.objects.get(user=alice)
    assert withdrawal.order_no == body["order_no"]
    assert withdrawal.status == WithdrawalStatus.APPROVED
    assert (withdrawal.amount, withdrawal.fee, withdrawal.actual_amount) == (D("100.00"), D("0.10"), D("99.90"))
    hold = Hold.objects.get(pk=withdrawal.hold_id)
    assert (hold.status, hold.amount, hold.account.owner_id) == (Hold.Status.PENDING, D("100.00"), alice.pk)
    summary = wallet_summary(user=alice)
    assert (summary.balance, summary.available, summary.frozen) == (D("500.00"), D("400.00"), D("100.00"))

    # when she reads the order and her list
    shown = client.get(detail_url(body["order_no"]))
    listed = client.get(WITHDRAWALS)

    # then both show it
    assert shown.status_code == 200 and shown.json() == body
    assert listed.status_code == 200
    assert [row["order_no"] for row in listed.json()["results"]] == [body["order_no"]]
    assert_no_secrets(bound, submitted, shown, listed)


def test_a_withdrawal_to_a_wechat_openid_goes_through_the_wechat_channel(
    alice, funded_account, api_client_for, wechat_account
):
    # given an openid bound to a funded wallet
    funded_account(alice, "100.00")
    account = wechat_account(alice)

    # when alice withdraws 20.00 to it
    response = withdraw(api_client_for(alice), account.pk, "20.00")

    # then the WeChat channel takes it at the minimum fee
    assert response.status_code == 201
    assert (response.json()["channel"], response.json()["fee"]) == ("wechat", "0.10")
    assert Withdrawal.objects.get(user=alice).channel.code == "wechat"
    assert wallet_summary(user=alice).frozen == D("20.00")
    assert_no_secrets(response)


def test_an_amount_above_the_review_threshold_waits_as_pending_with_its_money_held(
    alice, funded_account, api_client_for, card_account
):
    # given a wallet of 10000.00
    funded_account(alice, "10000.00")

    # when alice withdraws 6000.00, above the 5000.00 review threshold
    response = withdraw(api_client_for(alice), card_account(alice).pk, "6000.00")

    # then the order waits for review, priced and held
    assert response.status_code == 201
    body = response.json()
    assert (body["status"], body["fee"], body["actual_amount"]) == ("pending", "5.00", "5995.00")
    assert body["approved_at"] is None
    withdrawal = Withdrawal.objects.get(user=alice)
    assert withdrawal.status == WithdrawalStatus.PENDING
    assert withdrawal.approvals_required == 1
    assert Hold.objects.get(pk=withdrawal.hold_id).status == Hold.Status.PENDING
    summary = wallet_summary(user=alice)
    assert (summary.available, summary.frozen) == (D("4000.00"), D("6000.00"))


def test_an_amount_at_the_four_eyes_threshold_is_pending_and_needs_two_approvals(
    alice, funded_account, api_client_for, card_account
):
    funded_account(alice, "10000.00")

    response = withdraw(api_client_for(alice), card_account(alice).pk, "8000.00")

    assert response.status_code == 201
    assert response.json()["status"] == "pending"
    assert Withdrawal.objects.get(user=alice).approvals_required == 2


# Idempotency


def test_the_same_key_and_body_replays_the_same_order_and_holds_once(
    alice, funded_account, api_client_for, card_account
):
    # given a withdrawal submitted with a key
    funded_account(alice, "500.00")
    client = api_client_for(alice)
    account_id = card_account(alice).pk
    first = withdraw(client, account_id, "100.00", key="retry-me")

    # when the client retries with the same key and body
    second = withdraw(client, account_id, "100.00", key="retry-me")

    # then it gets the same order back, marked as a replay, and nothing more happened
    assert (first.status_code, second.status_code) == (201, 201)
    assert second["Idempotent-Replayed"] == "true"
    assert second.json()["order_no"] == first.json()["order_no"]
    assert second.json() == first.json()
    assert Withdrawal.objects.filter(user=alice).count() == 1
    assert holds_of(alice).count() == 1
    summary = wallet_summary(user=alice)
    assert (summary.available, summary.frozen) == (D("400.00"), D("100.00"))


@pytest.mark.parametrize("change", ["amount", "payout_account"])
def test_the_same_key_with_another_body_is_a_409_and_changes_nothing(
    alice, funded_account, api_client_for, card_account, change
):
    # given a withdrawal submitted with a key, and a second card
    funded_account(alice, "500.00")
    client = api_client_for(alice)
    card = card_account(alice)
    other_card = card_account(alice, card_number=OTHER_CARD_NUMBER)
    first = withdraw(client, card.pk, "100.00", key="once")
    body = {"payout_account": card.pk, "amount": "100.00"}
    body[change] = "101.00" if change == "amount" else other_card.pk

    # when the key comes again with another amount or account
    response = client.post(WITHDRAWALS, body, format="json", HTTP_IDEMPOTENCY_KEY="once")

    # then it is a conflict and the first order is all there is
    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "idempotency_conflict"
    assert error["fields"] == {"Idempotency-Key": "reused"}
    withdrawal = Withdrawal.objects.get(user=alice)
    assert withdrawal.order_no == first.json()["order_no"]
    assert (withdrawal.amount, withdrawal.payout_account_id) == (D("100.00"), card.pk)
    assert holds_of(alice).count() == 1
    assert wallet_summary(user=alice).frozen == D("100.00")


@pytest.mark.parametrize("header", [MISSING, "", "   "])
def test_a_withdrawal_without_an_idempotency_key_is_a_400_and_writes_nothing(
    alice, funded_account, api_client_for, card_account, header
):
    funded_account(alice, "500.00")
    extra = {} if header is MISSING else {"HTTP_IDEMPOTENCY_KEY": header}

    response = api_client_for(alice).post(
        WITHDRAWALS, {"payout_account": card_account(alice).pk, "amount": "100.00"}, format="json", **extra
    )

    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "validation_error"
    assert "Idempotency-Key" in error["fields"]
    assert_nothing_written(alice, available="500.00")


def test_an_idempotency_key_longer_than_255_characters_is_a_400_and_writes_nothing(
    alice, funded_account, api_client_for, card_account
):
    funded_account(alice, "500.00")

    response = withdraw(api_client_for(alice), card_account(alice).pk, "100.00", key="k" * 256)

    assert response.status_code == 400
    assert "Idempotency-Key" in error_of(response)["fields"]
    assert_nothing_written(alice, available="500.00")


def test_keys_are_per_user(alice, bob, funded_account, api_client_for, card_account):
    funded_account(alice, "500.00")
    funded_account(bob, "500.00")

    mine = withdraw(api_client_for(alice), card_account(alice).pk, "10.00", key="shared")
    theirs = withdraw(api_client_for(bob), card_account(bob).pk, "20.00", key="shared")

    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in theirs
    assert mine.json()["order_no"] != theirs.json()["order_no"]
    assert Withdrawal.objects.get(user=bob).amount == D("20.00")


# Bad input


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("amount", "0"),
        ("amount", "0.00"),
        ("amount", "-1"),
        ("amount", "1.001"),
        ("amount", "1e3"),
        ("amount", "NaN"),
        ("amount", "Infinity"),
        ("amount", "abc"),
        ("amount", ""),
        ("amount", 12.5),
        ("amount", None),
        ("amount", "1000000.01"),
        ("amount", "1" + "0" * 20),
        ("amount", MISSING),
        ("payout_account", MISSING),
        ("payout_account", "abc"),
        ("payout_account", 0),
        ("payout_account", None),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(
    alice, funded_account, api_client_for, card_account, field, value
):
    # given a funded wallet and a bound card
    funded_account(alice, "500.00")
    body = {"payout_account": card_account(alice).pk, "amount": "100.00"}
    if value is MISSING:
        del body[field]
    else:
        body[field] = value

    # when alice submits the bad body
    response = api_client_for(alice).post(WITHDRAWALS, body, format="json", HTTP_IDEMPOTENCY_KEY="bad-1")

    # then the field is named and nothing was written, not even a risk evaluation
    assert response.status_code == 400, response.json()
    error = error_of(response)
    assert error["code"] == "validation_error"
    assert field in error["fields"]
    assert_nothing_written(alice, available="500.00")


def test_an_amount_just_at_the_maximum_passes_validation_and_is_refused_by_risk_only(
    alice, funded_account, api_client_for, card_account
):
    funded_account(alice, "500.00")

    response = withdraw(api_client_for(alice), card_account(alice).pk, "1000000.00")

    assert response.status_code == 422
    assert error_of(response)["code"] == "limit_exceeded"


def test_another_users_payout_account_is_a_400_on_payout_account_and_writes_nothing(
    alice, bob, funded_account, api_client_for, card_account
):
    # given bob's card
    funded_account(alice, "500.00")
    bobs_card = card_account(bob, card_number=OTHER_CARD_NUMBER)

    # when alice withdraws to it
    response = withdraw(api_client_for(alice), bobs_card.pk, "100.00")

    # then it does not exist for her, and nothing was written
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "validation_error"
    assert error["fields"] == {"payout_account": "not_found"}
    assert_nothing_written(alice, available="500.00")
    assert not Withdrawal.objects.filter(payout_account=bobs_card).exists()
    assert_no_secrets(response)


def test_a_payout_account_that_does_not_exist_is_a_400_on_payout_account_and_writes_nothing(
    alice, funded_account, api_client_for, card_account
):
    funded_account(alice, "500.00")
    missing_id = card_account(alice).pk + 1000

    response = withdraw(api_client_for(alice), missing_id, "100.00")

    assert response.status_code == 400
    assert error_of(response)["fields"] == {"payout_account": "not_found"}
    assert_nothing_written(alice, available="500.00")


def test_a_body_that_is_not_json_is_a_400_validation_error(alice, funded_account, api_client_for):
    funded_account(alice, "500.00")

    response = api_client_for(alice).post(
        WITHDRAWALS, "{not json", content_type="application/json", HTTP_IDEMPOTENCY_KEY="k"
    )

    assert response.status_code == 400
    assert error_of(response)["code"] == "validation_error"
    assert_nothing_written(alice, available="500.00")


# Refusals


def test_more_than_the_available_balance_is_422_insufficient_funds_and_writes_nothing(
    alice, funded_account, api_client_for, card_account
):
    # given 80.00 of which 30.00 is already held by another withdrawal
    funded_account(alice, "80.00")
    client = api_client_for(alice)
    card = card_account(alice)
    assert withdraw(client, card.pk, "30.00").status_code == 201

    # when alice withdraws 50.01
    response = withdraw(client, card.pk, "50.01")

    # then it is refused and only the first order and hold exist
    assert response.status_code == 422
    assert error_of(response)["code"] == "insufficient_funds"
    assert Withdrawal.objects.filter(user=alice).count() == 1
    assert holds_of(alice).count() == 1
    summary = wallet_summary(user=alice)
    assert (summary.available, summary.frozen) == (D("50.00"), D("30.00"))
    assert RiskEvaluation.objects.filter(user_id=alice.pk).count() == 1


def test_a_user_without_any_money_gets_insufficient_funds(alice, api_client_for, card_account):
    response = withdraw(api_client_for(alice), card_account(alice).pk, "10.00")

    assert response.status_code == 422
    assert error_of(response)["code"] == "insufficient_funds"
    assert_nothing_written(alice, available="0.00")


@pytest.mark.parametrize(
    ("amount", "code", "rule"),
    [
        ("0.50", "limit_exceeded", "min_amount"),
        ("0.99", "limit_exceeded", "min_amount"),
        ("10000.01", "limit_exceeded", "single_max"),
    ],
)
def test_amounts_outside_the_limits_are_422_limit_exceeded_and_hold_nothing(
    alice, funded_account, api_client_for, card_account, amount, code, rule
):
    # given a wallet with more than enough
    funded_account(alice, "20000.00")

    # when alice withdraws an amount the rules refuse
    response = withdraw(api_client_for(alice), card_account(alice).pk, amount)

    # then the refusal names the rule, and only the evaluation was kept
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == code
    assert error["fields"] == {"risk_rule": rule}
    assert_nothing_written(alice, available="20000.00", evaluations=1)
    assert RiskEvaluation.objects.get(user_id=alice.pk).outcome == RiskEvaluation.Outcome.REJECT


def test_the_limits_themselves_are_allowed(alice, funded_account, api_client_for, card_account):
    funded_account(alice, "20000.00")
    client = api_client_for(alice)
    card = card_account(alice)

    smallest = withdraw(client, card.pk, "1.00")
    largest = withdraw(client, card.pk, "10000.00")

    assert (smallest.status_code, largest.status_code) == (201, 201)
    assert (smallest.json()["fee"], smallest.json()["actual_amount"]) == ("0.10", "0.90")
    assert largest.json()["status"] == "pending"
    assert wallet_summary(user=alice).frozen == D("10001.00")


def test_a_closed_window_covering_now_is_422_window_closed_and_holds_nothing(
    alice, funded_account, api_client_for, card_account, risk_rule
):
    # given the window rule switched on for an hour either side of the current local time
    funded_account(alice, "500.00")
    now = timezone.localtime(timezone.now(), timezone.get_default_timezone())
    risk_rule(
        "withdrawal_window",
        enabled=True,
        closed_from=(now - timedelta(hours=1)).time(),
        closed_until=(now + timedelta(hours=1)).time(),
    )

    # when alice withdraws
    response = withdraw(api_client_for(alice), card_account(alice).pk, "100.00")

    # then the window refuses it
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "window_closed"
    assert error["fields"] == {"risk_rule": "withdrawal_window"}
    assert_nothing_written(alice, available="500.00", evaluations=1)


def test_a_closed_window_elsewhere_in_the_day_lets_the_withdrawal_through(
    alice, funded_account, api_client_for, card_account, risk_rule
):
    funded_account(alice, "500.00")
    now = timezone.localtime(timezone.now(), timezone.get_default_timezone())
    risk_rule(
        "withdrawal_window",
        enabled=True,
        closed_from=(now + timedelta(hours=2)).time(),
        closed_until=(now + timedelta(hours=3)).time(),
    )

    response = withdraw(api_client_for(alice), card_account(alice).pk, "100.00")

    assert response.status_code == 201
    assert wallet_summary(user=alice).frozen == D("100.00")


def test_a_staged_rollout_at_zero_percent_is_422_not_available_and_holds_nothing(
    alice, funded_account, api_client_for, card_account, risk_rule
):
    # given the rollout switched on for nobody
    funded_account(alice, "500.00")
    risk_rule("staged_rollout", enabled=True, percent=0)

    # when alice withdraws
    response = withdraw(api_client_for(alice), card_account(alice).pk, "100.00")

    # then withdrawals are not available to her yet
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "not_available"
    assert error["fields"] == {"risk_rule": "staged_rollout"}
    assert_nothing_written(alice, available="500.00", evaluations=1)


def test_the_fourth_withdrawal_in_an_hour_is_refused_and_refusals_use_no_quota(
    alice, funded_account, api_client_for, card_account
):
    # given three withdrawals this hour
    funded_account(alice, "500.00")
    client = api_client_for(alice)
    card = card_account(alice)
    for _ in range(3):
        assert withdraw(client, card.pk, "10.00").status_code == 201

    # when alice tries a fourth, twice
    refused = [withdraw(client, card.pk, "10.00") for _ in range(2)]

    # then both are refused by the hourly count and nothing more is held
    assert [r.status_code for r in refused] == [422, 422]
    assert [error_of(r)["fields"] for r in refused] == [{"risk_rule": "hourly_count"}] * 2
    assert [error_of(r)["code"] for r in refused] == ["limit_exceeded"] * 2
    assert Withdrawal.objects.filter(user=alice).count() == 3
    assert wallet_summary(user=alice).frozen == D("30.00")


@pytest.mark.parametrize("blocked", ["user", "payout_account"])
def test_a_blocklisted_user_or_payout_account_is_422_risk_rejected_and_holds_nothing(
    alice, funded_account, api_client_for, card_account, staff_in, blocked
):
    # given alice or her card on the blocklist
    funded_account(alice, "500.00")
    card = card_account(alice)
    if blocked == "user":
        target = {"kind": BlocklistEntry.Kind.USER, "user": alice}
    else:
        target = {"kind": BlocklistEntry.Kind.PAYOUT_ACCOUNT, "fingerprint": card.lookup_index}
    risk_services.blocklist_add(label=card.display, reason="fraud report", actor=staff_in("operations"), **target)

    # when she withdraws
    response = withdraw(api_client_for(alice), card.pk, "100.00")

    # then risk control refuses it without saying more
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "risk_rejected"
    assert error["fields"] == {"risk_rule": f"{blocked}_blocked"}
    assert "fraud" not in response.content.decode()
    assert_nothing_written(alice, available="500.00", evaluations=1)


def test_the_daily_amount_counts_live_orders_only(alice, funded_account, api_client_for, card_account, risk_rule):
    # given a daily amount of 150.00 and an order of 100.00 today
    risk_rule("daily_amount", amount=D("150.00"))
    funded_account(alice, "500.00")
    client = api_client_for(alice)
    card = card_account(alice)
    first = withdraw(client, card.pk, "100.00")

    # when alice asks for 100.00 more, then it is over the limit
    over = withdraw(client, card.pk, "100.00")
    assert over.status_code == 422
    assert (error_of(over)["code"], error_of(over)["fields"]) == ("limit_exceeded", {"risk_rule": "daily_amount"})
    assert wallet_summary(user=alice).frozen == D("100.00")

    # when she cancels the first, then its amount no longer counts
    assert client.post(cancel_url(first.json()["order_no"])).status_code == 200
    again = withdraw(client, card.pk, "100.00")
    assert again.status_code == 201
    assert wallet_summary(user=alice).frozen == D("100.00")
    assert Withdrawal.objects.filter(user=alice).count() == 2


def test_a_refused_submission_can_be_retried_with_the_same_key_once_the_rule_allows_it(
    alice, funded_account, api_client_for, card_account, risk_rule
):
    funded_account(alice, "500.00")
    client = api_client_for(alice)
    card = card_account(alice)
    risk_rule("staged_rollout", enabled=True, percent=0)
    assert withdraw(client, card.pk, "100.00", key="again").status_code == 422

    risk_rule("staged_rollout", enabled=False)
    response = withdraw(client, card.pk, "100.00", key="again")

    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert Withdrawal.objects.filter(user=alice).count() == 1


# Ownership and authentication


def test_another_users_order_is_404_to_read_and_to_cancel_and_stays_untouched(
    alice, bob, funded_account, api_client_for, submit
):
    # given bob's approved withdrawal
    funded_account(bob, "500.00")
    bobs = submit(bob, "100.00")
    client = api_client_for(alice)

    # when alice reads and cancels it
    read = client.get(detail_url(bobs.order_no))
    cancelled = client.post(cancel_url(bobs.order_no), {}, format="json")
    listed = client.get(WITHDRAWALS)

    # then it does not exist for her and nothing changed
    assert (read.status_code, cancelled.status_code) == (404, 404)
    assert error_of(read)["code"] == error_of(cancelled)["code"] == "not_found"
    assert listed.json()["results"] == []
    bobs.refresh_from_db()
    assert bobs.status == WithdrawalStatus.APPROVED
    assert Hold.objects.get(pk=bobs.hold_id).status == Hold.Status.PENDING
    assert wallet_summary(user=bob).frozen == D("100.00")
    assert_no_secrets(read, cancelled, listed)


def test_an_order_number_that_does_not_exist_is_404(alice, api_client_for):
    client = api_client_for(alice)

    assert error_of(client.get(detail_url("WD-NOPE")))["code"] == "not_found"
    assert client.post(cancel_url("WD-NOPE"), {}, format="json").status_code == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", PAYOUT_ACCOUNTS),
        ("post", PAYOUT_ACCOUNTS),
        ("get", WITHDRAWALS),
        ("post", WITHDRAWALS),
        ("get", "detail"),
        ("post", "cancel"),
    ],
)
def test_without_a_token_every_endpoint_is_401_and_nothing_changes(alice, funded_account, submit, method, path):
    # given alice's order
    funded_account(alice, "500.00")
    withdrawal = submit(alice, "100.00")
    url = {"detail": detail_url(withdrawal.order_no), "cancel": cancel_url(withdrawal.order_no)}.get(path, path)
    body = {"payout_account": withdrawal.payout_account_id, "amount": "10.00", **CARD_BODY}

    # when an anonymous client calls
    response = getattr(APIClient(), method)(
        url, body if method == "post" else None, format="json", HTTP_IDEMPOTENCY_KEY="anon"
    )

    # then it is not authenticated and nothing changed
    assert response.status_code == 401
    assert error_of(response)["code"] == "not_authenticated"
    assert Withdrawal.objects.count() == 1
    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.APPROVED
    assert PayoutAccount.objects.count() == 1
    assert wallet_summary(user=alice).frozen == D("100.00")


def test_a_bad_token_is_401(alice):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")

    response = client.get(WITHDRAWALS)

    assert response.status_code == 401
    assert error_of(response)["code"] == "not_authenticated"


# Cancel


@pytest.mark.parametrize(("amount", "status"), [("6000.00", "pending"), ("100.00", "approved")])
def test_the_owner_cancels_a_pending_or_approved_order_and_gets_the_money_back(
    alice, funded_account, api_client_for, submit, amount, status
):
    # given an order in the status
    funded_account(alice, "10000.00")
    withdrawal = submit(alice, amount)
    assert withdrawal.status == status
    assert wallet_summary(user=alice).available == D("10000.00") - D(amount)
    client = api_client_for(alice)

    # when alice cancels it
    response = client.post(cancel_url(withdrawal.order_no), {"reason": "changed my mind"}, format="json")

    # then it is cancelled, the hold released and the money available again
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert response.json()["status_reason"] == "changed my mind"
    assert response.json()["finished_at"] is not None
    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.CANCELLED
    assert Hold.objects.get(pk=withdrawal.hold_id).status == Hold.Status.RELEASED
    summary = wallet_summary(user=alice)
    assert (summary.balance, summary.available, summary.frozen) == (D("10000.00"), D("10000.00"), D("0.00"))

    # when she cancels it again
    again = client.post(cancel_url(withdrawal.order_no), {}, format="json")

    # then that is a no-op answering the cancelled order
    assert again.status_code == 200
    assert again.json()["status"] == "cancelled"
    assert again.json()["status_reason"] == "changed my mind"
    summary = wallet_summary(user=alice)
    assert (summary.balance, summary.available, summary.frozen) == (D("10000.00"), D("10000.00"), D("0.00"))


def test_cancelling_without_a_body_uses_a_default_reason(alice, funded_account, api_client_for, submit):
    funded_account(alice, "500.00")
    withdrawal = submit(alice, "100.00")

    response = api_client_for(alice).post(cancel_url(withdrawal.order_no))

    assert response.status_code == 200
    assert response.json()["status_reason"] == "Cancelled by the user."


def test_a_cancel_body_that_is_not_json_is_refused_and_cancels_nothing(alice, funded_account, api_client_for, submit):
    # given a malformed multipart body, which a form parser would read as an empty form
    funded_account(alice, "500.00")
    withdrawal = submit(alice, "100.00")
    body = b"--b\r\n[None, [], []]--b--\r\n"

    response = api_client_for(alice).post(
        cancel_url(withdrawal.order_no), body, content_type="multipart/form-data; boundary=b"
    )

    assert (response.status_code, error_of(response)["code"]) == (415, "unsupported_media_type")
    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.APPROVED


def test_a_processing_order_cannot_be_cancelled_409_and_stays_held(withdrawal_in, api_client_for):
    # given an order already sent to the channel
    withdrawal = withdrawal_in(WithdrawalStatus.PROCESSING)
    owner = withdrawal.user
    frozen_before = wallet_summary(user=owner).frozen

    # when the owner cancels it
    response = api_client_for(owner).post(cancel_url(withdrawal.order_no), {}, format="json")

    # then it is a conflict and the order and its hold are as they were
    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "conflict"
    assert error["fields"] == {"status": "processing"}
    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.PROCESSING
    assert Hold.objects.get(pk=withdrawal.hold_id).status == Hold.Status.PENDING
    assert wallet_summary(user=owner).frozen == frozen_before == D("6000.00")


@pytest.mark.parametrize("status", [WithdrawalStatus.SUCCESS, WithdrawalStatus.REJECTED, WithdrawalStatus.FAILED])
def test_a_finished_order_cannot_be_cancelled(withdrawal_in, api_client_for, status):
    withdrawal = withdrawal_in(status)
    summary_before = wallet_summary(user=withdrawal.user)

    response = api_client_for(withdrawal.user).post(cancel_url(withdrawal.order_no), {}, format="json")

    assert response.status_code == 409
    assert error_of(response)["code"] == "conflict"
    withdrawal.refresh_from_db()
    assert withdrawal.status == status
    assert wallet_summary(user=withdrawal.user) == summary_before


# The list and its filters


@pytest.fixture
def three_orders(alice, bob, funded_account, submit):
    """alice: one pending, one approved, one cancelled (oldest first); bob: one approved."""
    funded_account(alice, "20000.00")
    funded_account(bob, "500.00")
    pending = submit(alice, "6000.00")
    approved = submit(alice, "100.00")
    cancelled = services.withdrawal_cancel(withdrawal=submit(alice, "200.00"), actor=alice)
    submit(bob, "50.00")
    return pending, approved, cancelled


def order_nos(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return [row["order_no"] for row in response.json()["results"]]


def test_the_list_shows_only_your_own_orders_newest_first(alice, api_client_for, three_orders):
    pending, approved, cancelled = three_orders

    response = api_client_for(alice).get(WITHDRAWALS)

    assert order_nos(response) == [cancelled.order_no, approved.order_no, pending.order_no]
    assert response.json()["next"] is None
    assert_no_secrets(response)


def test_the_list_pages_by_cursor(alice, api_client_for, three_orders):
    pending, approved, cancelled = three_orders
    client = api_client_for(alice)

    first = client.get(WITHDRAWALS, {"page_size": 2})
    second = client.get(first.json()["next"])

    assert order_nos(first) == [cancelled.order_no, approved.order_no]
    assert order_nos(second) == [pending.order_no]
    assert second.json()["next"] is None


def test_the_cursor_pages_through_orders_of_the_same_instant_without_gaps_or_repeats(
    alice, funded_account, submit, api_client_for, risk_rule
):
    # given five orders all created at the same instant
    for code in ("hourly_count", "daily_count"):
        risk_rule(code, enabled=False)
    funded_account(alice, "500.00")
    created = {submit(alice, "10.00").order_no for _ in range(5)}
    Withdrawal.objects.filter(user=alice).update(created_at=timezone.now())
    client = api_client_for(alice)

    # when alice pages through them two at a time
    seen: list[str] = []
    page = client.get(WITHDRAWALS, {"page_size": 2}).json()
    seen += [row["order_no"] for row in page["results"]]
    while page["next"]:
        page = client.get(page["next"]).json()
        seen += [row["order_no"] for row in page["results"]]

    # then she sees each exactly once
    assert sorted(seen) == sorted(created)


def test_the_list_filters_by_one_status(alice, api_client_for, three_orders):
    pending, _, _ = three_orders

    assert order_nos(api_client_for(alice).get(WITHDRAWALS, {"status": "pending"})) == [pending.order_no]


def test_the_list_filters_by_two_statuses(alice, api_client_for, three_orders):
    pending, _, cancelled = three_orders

    response = api_client_for(alice).get(WITHDRAWALS, {"status": ["pending", "cancelled"]})

    assert order_nos(response) == [cancelled.order_no, pending.order_no]


def test_a_status_with_no_orders_gives_an_empty_list(alice, api_client_for, three_orders):
    assert order_nos(api_client_for(alice).get(WITHDRAWALS, {"status": "success"})) == []


def test_the_list_filters_by_local_dates_inclusive(alice, funded_account, submit, api_client_for, risk_rule):
    # given four orders around midnight of 10 March, local time
    risk_rule("hourly_count", enabled=False)
    funded_account(alice, "500.00")
    local = timezone.get_default_timezone()
    moments = {
        "day_before": datetime(2024, 3, 9, 23, 59, 59, tzinfo=local),
        "first_instant": datetime(2024, 3, 10, 0, 0, tzinfo=local),
        "last_instant": datetime(2024, 3, 10, 23, 59, 59, 999999, tzinfo=local),
        "day_after": datetime(2024, 3, 11, 0, 0, tzinfo=local),
    }
    orders = {}
    for name, moment in moments.items():
        withdrawal = submit(alice, "10.00")
        Withdrawal.objects.filter(pk=withdrawal.pk).update(created_at=moment)
        orders[name] = withdrawal.order_no
    client = api_client_for(alice)

    # when alice filters by dates, then each day covers exactly its local instants
    on_the_10th = client.get(WITHDRAWALS, {"created_from": "2024-03-10", "created_to": "2024-03-10"})
    assert order_nos(on_the_10th) == [orders["last_instant"], orders["first_instant"]]
    from_the_11th = client.get(WITHDRAWALS, {"created_from": "2024-03-11"})
    assert order_nos(from_the_11th) == [orders["day_after"]]
    to_the_9th = client.get(WITHDRAWALS, {"created_to": "2024-03-09"})
    assert order_nos(to_the_9th) == [orders["day_before"]]
    from_10_to_11 = client.get(WITHDRAWALS, {"created_from": "2024-03-10", "created_to": "2024-03-11"})
    assert order_nos(from_10_to_11) == [orders["day_after"], orders["last_instant"], orders["first_instant"]]
    combined = client.get(WITHDRAWALS, {"created_from": "2024-03-10", "status": "approved"})
    assert len(order_nos(combined)) == 3
    # and the last day there is, or the first, is a bound like any other
    to_the_end = client.get(WITHDRAWALS, {"created_from": "0001-01-01", "created_to": "9999-12-31"})
    assert to_the_end.status_code == 200 and len(order_nos(to_the_end)) == 4


def test_the_list_costs_the_same_queries_for_one_order_or_many(
    alice, funded_account, submit, api_client_for, risk_rule, django_assert_num_queries
):
    # given one order, then five more to other payout accounts
    risk_rule("hourly_count", enabled=False)
    risk_rule("daily_count", enabled=False)
    funded_account(alice, "500.00")
    client = api_client_for(alice)
    submit(alice, "10.00")
    with CaptureQueriesContext(connection) as one:
        assert len(order_nos(client.get(WITHDRAWALS))) == 1
    for n in range(5):
        submit(
            alice,
            "10.00",
            payout_account=services.payout_account_bind(user=alice, kind="wechat_openid", openid=f"{OPENID[:-1]}{n}")[
                0
            ],
        )

    # when alice lists six orders, then it takes as many queries as for one
    with django_assert_num_queries(len(one.captured_queries)):
        assert len(order_nos(client.get(WITHDRAWALS))) == 6


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"created_from": "2024-13-01"}, "created_from"),
        ({"created_to": "yesterday"}, "created_to"),
        ({"created_from": "2024-02-30"}, "created_from"),
        ({"status": "paid"}, "status"),
    ],
)
def test_a_bad_filter_is_a_400_naming_it(alice, api_client_for, three_orders, params, field):
    response = api_client_for(alice).get(WITHDRAWALS, params)

    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "validation_error"
    assert field in error["fields"]


# Throttle


@pytest.fixture
def private_throttle_window(monkeypatch):
    """The real limiter on the real Redis, under a key prefix of this test alone.

    Every other pytest session on the same Redis database (a colleague's ``-n 0`` run) resets
    all ``throttle:*`` keys before each of its tests, which could empty this test's window in
    the middle of its burst; a private prefix keeps the window out of their reach.
    """
    storage = copy.copy(throttles.rate_limiter().storage)
    assert isinstance(storage, RedisStorage)
    storage.key_prefix = f"throttle-test-{uuid.uuid4().hex}"
    monkeypatch.setattr(throttles, "rate_limiter", lambda: MovingWindowRateLimiter(storage))
    yield
    storage.reset()


def test_the_eleventh_submission_in_a_minute_is_429_and_another_user_is_not_throttled(
    alice, bob, funded_account, api_client_for, card_account, risk_rule, private_throttle_window
):
    # given count rules that would refuse first switched off
    for code in ("hourly_count", "daily_count", "monthly_count"):
        risk_rule(code, enabled=False)
    funded_account(alice, "100.00")
    funded_account(bob, "100.00")
    client = api_client_for(alice)
    card = card_account(alice).pk

    # when alice submits eleven withdrawals in quick succession
    responses = [withdraw(client, card, "1.00", key=f"burst-{i}") for i in range(11)]

    # then ten pass and the eleventh is throttled with a Retry-After
    assert [r.status_code for r in responses] == [201] * 10 + [429]
    throttled = responses[-1]
    assert error_of(throttled)["code"] == "throttled"
    assert 1 <= int(throttled["Retry-After"]) <= 60
    assert Withdrawal.objects.filter(user=alice).count() == 10
    assert wallet_summary(user=alice).frozen == D("10.00")

    # and reading is not throttled, nor is bob
    assert client.get(WITHDRAWALS).status_code == 200
    assert withdraw(api_client_for(bob), card_account(bob).pk, "1.00").status_code == 201


# Payout accounts


def test_binding_an_openid_answers_201_masked(alice, api_client_for):
    response = api_client_for(alice).post(PAYOUT_ACCOUNTS, {"kind": "wechat_openid", "openid": OPENID}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["kind"] == "wechat_openid"
    assert body["display"] == f"{OPENID[:3]}***{OPENID[-3:]}"
    assert (body["bank_code"], body["holder_name"]) == ("", "")
    account = PayoutAccount.objects.get(user=alice)
    assert account.pk == body["id"]
    assert account.identifier == OPENID
    assert OPENID not in account.openid_sealed and account.openid_sealed
    assert_no_secrets(response)


def test_binding_a_card_answers_201_masked_and_stores_ciphertext(alice, api_client_for):
    # when alice binds a card
    response = api_client_for(alice).post(PAYOUT_ACCOUNTS, CARD_BODY, format="json")

    # then only masked values come back
    assert response.status_code == 201
    body = response.json()
    assert body["kind"] == "bank_card"
    assert body["display"] == f"ICBC **** {CARD_NUMBER[-4:]}"
    assert body["bank_code"] == "ICBC"
    assert body["holder_name"] == "张**"
    assert body["created_at"]
    assert set(body) == {"id", "kind", "display", "bank_code", "holder_name", "created_at"}
    assert_no_secrets(response)
    # and the database holds ciphertext that opens to the values
    account = PayoutAccount.objects.get(pk=body["id"])
    assert account.card_number_sealed and CARD_NUMBER not in account.card_number_sealed
    assert CARD_NUMBER[-8:] not in account.card_number_sealed
    assert account.holder_name_sealed and HOLDER_NAME not in account.holder_name_sealed
    assert CARD_NUMBER not in account.lookup_index
    assert (account.identifier, account.holder_name) == (CARD_NUMBER, HOLDER_NAME)
    raw = PayoutAccount.objects.filter(pk=account.pk).values_list(
        "card_number_sealed", "holder_name_sealed", "masked_number", "masked_holder", "lookup_index"
    )
    assert all(CARD_NUMBER not in column and HOLDER_NAME not in column for column in raw.get())


def test_binding_the_same_card_twice_answers_200_with_the_same_account(alice, api_client_for):
    client = api_client_for(alice)
    first = client.post(PAYOUT_ACCOUNTS, CARD_BODY, format="json")
    spaced = " ".join(CARD_NUMBER[i : i + 4] for i in range(0, len(CARD_NUMBER), 4))

    again = client.post(PAYOUT_ACCOUNTS, {**CARD_BODY, "card_number": spaced}, format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert PayoutAccount.objects.filter(user=alice).count() == 1
    assert_no_secrets(first, again)


def test_binding_the_same_openid_twice_answers_200_with_the_same_account(alice, api_client_for):
    client = api_client_for(alice)
    body = {"kind": "wechat_openid", "openid": OPENID}

    first = client.post(PAYOUT_ACCOUNTS, body, format="json")
    again = client.post(PAYOUT_ACCOUNTS, body, format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert PayoutAccount.objects.filter(user=alice).count() == 1


def test_two_users_may_bind_the_same_card(alice, bob, api_client_for):
    mine = api_client_for(alice).post(PAYOUT_ACCOUNTS, CARD_BODY, format="json")
    theirs = api_client_for(bob).post(PAYOUT_ACCOUNTS, CARD_BODY, format="json")

    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["id"] != theirs.json()["id"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"card_number": CARD_NUMBER[:-1] + str((int(CARD_NUMBER[-1]) + 1) % 10)}, "card_number"),
        ({"card_number": "12345"}, "card_number"),
        ({"card_number": "6222abcd02001122334"}, "card_number"),
        ({"card_number": ""}, "card_number"),
        ({"bank_code": "12"}, "bank_code"),
        ({"bank_code": "I"}, "bank_code"),
        ({"bank_code": ""}, "bank_code"),
        ({"holder_name": "  "}, "holder_name"),
        ({"kind": "paypal"}, "kind"),
        ({"kind": "wechat_openid", "openid": "bad id!"}, "openid"),
        ({"kind": "wechat_openid", "openid": ""}, "openid"),
    ],
)
def test_a_bad_payout_account_is_a_400_naming_the_field_and_binds_nothing(alice, api_client_for, changes, field):
    response = api_client_for(alice).post(PAYOUT_ACCOUNTS, {**CARD_BODY, **changes}, format="json")

    assert response.status_code == 400, response.json()
    error = error_of(response)
    assert error["code"] == "validation_error"
    assert field in error["fields"]
    assert not PayoutAccount.objects.exists()
    assert_no_secrets(response)


def test_a_card_with_a_bad_check_digit_is_not_echoed_back(alice, api_client_for):
    wrong = CARD_NUMBER[:-1] + str((int(CARD_NUMBER[-1]) + 1) % 10)

    response = api_client_for(alice).post(PAYOUT_ACCOUNTS, {**CARD_BODY, "card_number": wrong}, format="json")

    assert response.status_code == 400
    assert wrong not in response.content.decode()
    assert HOLDER_NAME not in response.content.decode()


def test_the_list_shows_only_your_own_accounts_masked(alice, bob, api_client_for, card_account, wechat_account):
    # given alice's card and openid, and bob's other card
    card = card_account(alice, holder_name=HOLDER_NAME)
    openid = wechat_account(alice)
    card_account(bob, card_number=OTHER_CARD_NUMBER, holder_name=HOLDER_NAME)

    # when alice lists her accounts
    response = api_client_for(alice).get(PAYOUT_ACCOUNTS)

    # then she sees hers, newest first, masked
    assert response.status_code == 200
    assert [row["id"] for row in response.json()] == [openid.pk, card.pk]
    assert [row["display"] for row in response.json()] == [
        f"{OPENID[:3]}***{OPENID[-3:]}",
        f"ICBC **** {CARD_NUMBER[-4:]}",
    ]
    assert_no_secrets(response)


def test_nothing_sensitive_leaves_the_server_in_any_response(alice, bob, funded_account, api_client_for):
    # given alice's card and openid bound and used through the API
    funded_account(alice, "10000.00")
    client = api_client_for(alice)
    responses = [
        client.post(PAYOUT_ACCOUNTS, CARD_BODY, format="json"),
        client.post(PAYOUT_ACCOUNTS, {"kind": "wechat_openid", "openid": OPENID}, format="json"),
        client.post(PAYOUT_ACCOUNTS, CARD_BODY, format="json"),
    ]
    card_id, openid_id = responses[0].json()["id"], responses[1].json()["id"]
    responses += [withdraw(client, card_id, "100.00"), withdraw(client, openid_id, "6000.00")]
    order_no = responses[-2].json()["order_no"]
    responses += [
        withdraw(client, card_id, "9000.00"),
        withdraw(client, card_id, "0.50"),
        withdraw(client, 999_999, "1.00"),
        client.get(PAYOUT_ACCOUNTS),
        client.get(WITHDRAWALS),
        client.get(WITHDRAWALS, {"status": "pending"}),
        client.get(detail_url(order_no)),
        client.post(cancel_url(order_no), {}, format="json"),
        api_client_for(bob).get(detail_url(order_no)),
        client.get("/api/schema/", {"format": "json"}),
    ]

    # then none of them carries the card number, the openid or the holder's name
    assert [r.status_code for r in responses[:8]] == [201, 201, 200, 201, 201, 422, 422, 400]
    assert [error_of(r)["code"] for r in responses[5:7]] == ["insufficient_funds", "limit_exceeded"]
    assert_no_secrets(*responses)
    # and the database columns are ciphertext
    for account in PayoutAccount.objects.filter(user=alice):
        sealed = account.card_number_sealed + account.openid_sealed + account.holder_name_sealed
        assert CARD_NUMBER not in sealed and OPENID not in sealed and HOLDER_NAME not in sealed


# Schema


def test_the_openapi_schema_describes_the_withdrawal_endpoints(alice, api_client_for):
    response = api_client_for(alice).get("/api/schema/", {"format": "json"})

    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/withdrawals/"])
    assert "get" in paths["/api/v1/withdrawals/{order_no}/"]
    assert "post" in paths["/api/v1/withdrawals/{order_no}/cancel/"]
    assert {"get", "post"} <= set(paths["/api/v1/payout-accounts/"])
    submit_parameters = {p["name"] for p in paths["/api/v1/withdrawals/"]["post"]["parameters"]}
    assert "Idempotency-Key" in submit_parameters
    schemas = response.json()["components"]["schemas"]
    assert {"Withdrawal", "PayoutAccount", "WithdrawalSubmitInput", "PayoutAccountBindInput"} <= set(schemas)
    assert "card_number_sealed" not in response.content.decode()


def test_the_openapi_schema_describes_the_withdrawal_list_as_the_cursor_page_it_returns(alice, api_client_for):
    # given what the list really answers: a cursor page
    body = api_client_for(alice).get(WITHDRAWALS).json()
    assert set(body) == {"next", "previous", "results"}

    # when the schema is read
    schema = api_client_for(alice).get("/api/schema/", {"format": "json"}).json()

    # then it documents that page and its cursor and filters, not a bare array
    operation = schema["paths"]["/api/v1/withdrawals/"]["get"]
    parameters = {p["name"] for p in operation["parameters"]}
    assert {"status", "created_from", "created_to"} <= parameters
    response_schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    if "$ref" in response_schema:
        response_schema = schema["components"]["schemas"][response_schema["$ref"].rsplit("/", 1)[-1]]
    assert response_schema.get("type") == "object", response_schema
    assert {"next", "previous", "results"} <= set(response_schema["properties"])
    assert {"cursor", "page_size"} <= parameters


def test_the_openapi_schema_says_which_timestamps_are_null_until_they_happen(alice, api_client_for):
    schemas = api_client_for(alice).get("/api/schema/", {"format": "json"}).json()["components"]["schemas"]

    nullable = {
        (component, name)
        for component in ("Withdrawal", "PaymentOrder", "Refund")
        for name, field in schemas[component]["properties"].items()
        if field.get("nullable")
    }

    assert nullable == {
        ("Withdrawal", "approved_at"),
        ("Withdrawal", "finished_at"),
        ("PaymentOrder", "channel"),
        ("PaymentOrder", "merchant"),  # none for a recharge
        ("PaymentOrder", "paid_at"),
        ("PaymentOrder", "finished_at"),
        ("Refund", "finished_at"),
    }
    assert schemas["Withdrawal"]["properties"]["status"] == {"$ref": "#/components/schemas/WithdrawalStatusEnum"}


def test_the_openapi_schema_documents_each_error_status_with_the_envelope(alice, api_client_for):
    schema = api_client_for(alice).get("/api/schema/", {"format": "json"}).json()
    submit = schema["paths"]["/api/v1/withdrawals/"]["post"]

    assert set(submit["responses"]) == {"201", "400", "401", "403", "409", "415", "422", "429"}
    for status in ("400", "401", "403", "409", "415", "422", "429"):
        content = submit["responses"][status]["content"]["application/json"]
        assert content["schema"] == {"$ref": "#/components/schemas/Error"}
    assert "`risk_rejected`" in submit["responses"]["422"]["description"]
    assert "Retry-After" in submit["responses"]["429"]["headers"]
    assert "Idempotent-Replayed" in submit["responses"]["201"]["headers"]
    error = schema["components"]["schemas"]["Error"]["properties"]["error"]
    assert set(error["required"]) == {"code", "message", "fields"}
    assert {"validation_error", "insufficient_funds", "throttled", "channel_unavailable"} <= set(
        error["properties"]["code"]["enum"]
    )


def test_the_openapi_schema_documents_the_notify_endpoint_as_unauthenticated(alice, api_client_for):
    schema = api_client_for(alice).get("/api/schema/", {"format": "json"}).json()

    notify = schema["paths"]["/api/v1/notify/{channel_code}/"]["post"]

    assert "security" not in notify and "security" not in schema  # no credentials asked for
    assert {"200", "400", "404"} <= set(notify["responses"]) and "401" not in notify["responses"]


def test_a_withdrawal_paid_with_a_token_takes_at_most_21_queries(
    alice, funded_account, api_client_for, django_assert_max_num_queries
):
    # Each query is a round trip under load (docs/PERFORMANCE.md, "HTTP under load").
    funded_account(alice, "500.00")
    bound = api_client_for(alice).post(PAYOUT_ACCOUNTS, CARD_BODY, format="json").json()
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Token {Token.objects.get(user=alice).key}",
        HTTP_PAYMENT_TOKEN=payment_token_issue(user=alice, password=PAYMENT_PASSWORD).token,
    )

    with django_assert_max_num_queries(21):
        submitted = withdraw(client, bound["id"], "100.00")

    assert submitted.status_code == 201, submitted.json()
    assert submitted.json()["status"] == "approved"
