"""Payment password: set and change, the check on every money-leaving POST, lockout, tokens."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from conftest import PAYMENT_PASSWORD
from wallet.models import PaymentPassword, PeerTransfer
from wallet.payment_password import services

pytestmark = pytest.mark.django_db

URL = "/api/v1/wallet/payment-password/"
TOKEN_URL = "/api/v1/wallet/payment-password/token/"
WRONG = "000000"


@pytest.fixture
def sender(make_user, funded_account):
    user = make_user("sender")
    funded_account(user, "500.00")
    return user


@pytest.fixture
def bare_client(api_client_for):
    """An API client that sends no payment password."""

    def make(user):
        client = api_client_for(user)
        client.credentials(HTTP_AUTHORIZATION=client._credentials["HTTP_AUTHORIZATION"])
        return client

    return make


def _transfer(client, key: str = "k-1", **headers):
    return client.post(
        "/api/v1/transfers/", {"to": "bob", "amount": "10.00"}, format="json", HTTP_IDEMPOTENCY_KEY=key, **headers
    )


def test_a_user_without_one_sets_it_with_the_account_password(make_user, bare_client):
    user = make_user()
    PaymentPassword.objects.filter(user=user).delete()
    client = bare_client(user)
    assert client.get(URL).json() == {"is_set": False, "is_locked": False, "locked_until": None}

    refused = client.put(URL, {"new_password": "246810", "account_password": "wrong"}, format="json")
    response = client.put(URL, {"new_password": "246810", "account_password": "pw-for-tests-only"}, format="json")

    assert refused.status_code == 400
    assert refused.json()["error"]["fields"] == {"account_password": "invalid"}
    assert response.status_code == 200
    assert response.json()["is_set"] is True
    services.payment_password_verify(user=user, password="246810")


def test_it_is_changed_with_the_old_one_and_must_be_six_digits(make_user, bare_client):
    user = make_user()
    client = bare_client(user)

    badly_formed = client.put(URL, {"new_password": "12345a", "old_payment_password": PAYMENT_PASSWORD}, format="json")
    changed = client.put(URL, {"new_password": "112233", "old_payment_password": PAYMENT_PASSWORD}, format="json")

    assert badly_formed.status_code == 400
    assert list(badly_formed.json()["error"]["fields"]) == ["new_password"]
    assert changed.status_code == 200
    with pytest.raises(services.PaymentPasswordInvalid):
        services.payment_password_verify(user=user, password=PAYMENT_PASSWORD)
    services.payment_password_verify(user=user, password="112233")


def test_a_user_who_never_set_one_is_told_so(sender, make_user, api_client_for):
    make_user("bob")
    PaymentPassword.objects.filter(user=sender).delete()

    response = _transfer(api_client_for(sender))

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "payment_password_not_set"


def test_wrong_tries_count_down_then_lock(sender, make_user, bare_client):
    make_user("bob")
    client = bare_client(sender)

    answers = [_transfer(client, f"k-{n}", HTTP_PAYMENT_PASSWORD=WRONG).json()["error"] for n in range(6)]
    right_but_locked = _transfer(client, "k-right", HTTP_PAYMENT_PASSWORD=PAYMENT_PASSWORD).json()["error"]

    assert [a["code"] for a in answers[:4]] == ["payment_password_invalid"] * 4
    assert [a["fields"]["remaining_tries"] for a in answers[:4]] == ["4", "3", "2", "1"]
    assert answers[4]["code"] == answers[5]["code"] == right_but_locked["code"] == "payment_password_locked"
    until = parse_datetime(answers[4]["fields"]["locked_until"])
    assert until is not None and until > timezone.now() + timedelta(minutes=29)
    assert client.get(URL).json()["is_locked"] is True
    assert not PeerTransfer.objects.exists()


def test_the_lock_runs_out_and_the_tries_start_again(sender, make_user, bare_client):
    make_user("bob")
    PaymentPassword.objects.filter(user=sender).update(
        failed_attempts=5, locked_until=timezone.now() - timedelta(seconds=1)
    )
    client = bare_client(sender)

    one_wrong = _transfer(client, "k-1", HTTP_PAYMENT_PASSWORD=WRONG).json()["error"]
    right = _transfer(client, "k-2", HTTP_PAYMENT_PASSWORD=PAYMENT_PASSWORD)

    assert one_wrong["fields"] == {"remaining_tries": "4"}
    assert right.status_code == 201
    assert PaymentPassword.objects.get(user=sender).failed_attempts == 0


def test_a_token_pays_once_and_a_replayed_token_is_refused(sender, make_user, bare_client):
    make_user("bob")
    client = bare_client(sender)
    token = client.post(TOKEN_URL, {"password": PAYMENT_PASSWORD}, format="json").json()["token"]

    first = _transfer(client, "k-1", HTTP_PAYMENT_TOKEN=token)
    replayed_token = _transfer(client, "k-2", HTTP_PAYMENT_TOKEN=token)

    assert first.status_code == 201
    assert replayed_token.status_code == 403
    assert replayed_token.json()["error"]["code"] == "payment_password_invalid"
    assert PeerTransfer.objects.count() == 1


def test_a_token_is_no_good_to_another_user(sender, make_user, bare_client):
    other = make_user("bob")
    token = services.payment_token_issue(user=other, password=PAYMENT_PASSWORD).token

    response = _transfer(bare_client(sender), HTTP_PAYMENT_TOKEN=token)

    assert response.json()["error"]["code"] == "payment_password_invalid"


def test_a_retry_with_the_same_idempotency_key_gets_the_same_transfer_without_asking_again(
    sender, make_user, bare_client
):
    make_user("bob")
    client = bare_client(sender)
    token = services.payment_token_issue(user=sender, password=PAYMENT_PASSWORD).token

    first = _transfer(client, "k-1", HTTP_PAYMENT_TOKEN=token)
    retry = _transfer(client, "k-1", HTTP_PAYMENT_TOKEN=token)

    assert retry.status_code == 201
    assert retry["Idempotent-Replayed"] == "true"
    assert retry.json()["id"] == first.json()["id"]
    assert PeerTransfer.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_parallel_wrong_tries_are_counted_one_by_one(make_user):
    user = make_user()
    outcomes: list[str] = []
    start = threading.Barrier(8)

    def wrong_try() -> None:
        start.wait()
        try:
            services.payment_password_verify(user=user, password=WRONG)
        except services.PaymentPasswordInvalid:
            outcomes.append("invalid")
        except services.PaymentPasswordLocked:
            outcomes.append("locked")
        finally:
            connection.close()

    threads = [threading.Thread(target=wrong_try) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    record = PaymentPassword.objects.get(user=user)
    assert sorted(outcomes) == ["invalid"] * 4 + ["locked"] * 4
    assert record.failed_attempts == 5
    assert record.locked_until is not None
