"""Staff sign-in (docs/OPERATIONS.md, "Staff sign-in"): wrong passwords lock a username from an
address for a while, and every role but the read-only one gives an authenticator code."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from config.tests.staff import otp_login, totp_code, totp_device_for

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests-only"
LOGIN = "/admin/login/"
QUEUE = "/admin/payments/withdrawal/"


def sign_in(client: Client, username: str, password: str = PASSWORD, code: str = ""):
    return client.post(LOGIN, {"username": username, "password": password, "otp_token": code, "next": QUEUE})


def fail_times(client: Client, username: str, times: int) -> list[int]:
    return [sign_in(client, username, password="wrong").status_code for _ in range(times)]


@pytest.fixture
def reviewer(staff_in):
    return staff_in("finance_reviewer", "reviewer")


@pytest.fixture
def auditor(staff_in):
    return staff_in("auditor", "auditor")


# Lockout


def test_the_fifth_wrong_password_locks_the_username_from_that_address_with_a_clear_message(reviewer):
    code = totp_code(totp_device_for(reviewer))
    client = Client()

    statuses = fail_times(client, "reviewer", 5)
    right_password = sign_in(client, "reviewer", code=code)

    assert statuses == [200, 200, 200, 200, 429]
    assert right_password.status_code == 429
    page = right_password.content.decode()
    assert 'id="sign-in-locked"' in page
    assert "Too many wrong passwords for reviewer from your address" in page
    assert "locked for 30 minutes" in page
    assert "_auth_user_id" not in client.session


def test_the_lock_holds_one_address_and_one_username_only(reviewer, staff_in):
    staff_in("finance_reviewer", "colleague")
    fail_times(Client(REMOTE_ADDR="10.0.0.1"), "reviewer", 5)

    from_elsewhere = sign_in(Client(REMOTE_ADDR="10.0.0.2"), "reviewer", code=totp_code(totp_device_for(reviewer)))
    colleague = sign_in(Client(REMOTE_ADDR="10.0.0.1"), "colleague", password="wrong")

    assert from_elsewhere.status_code == 302
    assert colleague.status_code == 200


def test_a_client_chosen_forwarded_header_does_not_give_each_guess_a_new_address(reviewer):
    statuses = [
        Client(HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").post(LOGIN, {"username": "reviewer", "password": "x"}).status_code
        for n in range(5)
    ]

    assert statuses[-1] == 429


def test_the_lock_lifts_after_the_cool_off(reviewer):
    client = Client()
    fail_times(client, "reviewer", 5)

    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=31))
    response = sign_in(client, "reviewer", code=totp_code(totp_device_for(reviewer)))

    assert response.status_code == 302
    assert client.get(QUEUE).status_code == 200


def test_a_supervisor_unlocks_by_deleting_the_attempt_and_an_auditor_only_sees_it(reviewer, staff_in, client_for):
    fail_times(Client(), "reviewer", 5)
    attempt = AccessAttempt.objects.get(username="reviewer")
    auditor = client_for(staff_in("auditor"))
    supervisor = client_for(staff_in("finance_supervisor"))
    delete = f"/admin/axes/accessattempt/{attempt.pk}/delete/"

    assert "reviewer" in auditor.get("/admin/axes/accessattempt/").content.decode()
    assert auditor.post(delete, {"post": "yes"}).status_code == 403
    assert supervisor.post(delete, {"post": "yes"}).status_code == 302

    assert not AccessAttempt.objects.exists()
    assert sign_in(Client(), "reviewer", code=totp_code(totp_device_for(reviewer))).status_code == 302


def test_a_locked_out_user_keeps_using_the_api_with_a_token(make_user, api_client_for):
    user = make_user("customer")
    fail_times(Client(), "customer", 5)

    assert AccessAttempt.objects.get(username="customer").failures_since_start == 5
    assert api_client_for(user).get("/api/v1/wallet/").status_code == 200


# Second factor


def test_a_reviewer_signed_in_without_a_code_cannot_open_the_queue(reviewer):
    client = Client()
    client.force_login(reviewer)

    response = client.get(QUEUE)

    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)


def test_a_reviewer_whose_session_has_the_code_opens_the_queue(reviewer):
    assert otp_login(Client(), reviewer).get(QUEUE).status_code == 200


def test_a_reviewer_signs_in_with_password_and_code_and_not_with_the_password_alone(reviewer):
    device = totp_device_for(reviewer)
    without_code, with_code = Client(), Client()

    refused = sign_in(without_code, "reviewer")
    accepted = sign_in(with_code, "reviewer", code=totp_code(device))

    assert refused.status_code == 200
    assert "Enter the code your authenticator app shows" in refused.content.decode()
    assert without_code.get(QUEUE).status_code == 302
    assert accepted.status_code == 302
    assert with_code.get(QUEUE).status_code == 200


def test_a_wrong_code_is_refused(reviewer):
    device = totp_device_for(reviewer)
    wrong = str((int(totp_code(device)) + 1) % 1_000_000).zfill(6)

    response = sign_in(Client(), "reviewer", code=wrong)

    assert "That authenticator code is not valid" in response.content.decode()


def test_a_backup_code_signs_in_once(reviewer):
    device = StaticDevice.objects.create(user=reviewer, name="backup")
    device.token_set.create(token=StaticToken.random_token())
    token = device.token_set.get().token

    first, second = sign_in(Client(), "reviewer", code=token), sign_in(Client(), "reviewer", code=token)

    assert first.status_code == 302
    assert second.status_code == 200


def test_a_role_that_needs_a_code_and_has_no_authenticator_is_told_to_ask_for_one(staff_in):
    staff_in("operations", "ops")

    response = sign_in(Client(), "ops", code="123456")

    assert "no authenticator is set up for you yet" in response.content.decode()


@pytest.mark.parametrize("role", ["finance_supervisor", "operations"])
def test_every_role_that_changes_things_needs_the_code(staff_in, role):
    client = Client()
    client.force_login(staff_in(role))

    assert client.get("/admin/").status_code == 302


def test_a_superuser_needs_the_code(django_user_model):
    client = Client()
    client.force_login(django_user_model.objects.create_superuser("root", password=PASSWORD))

    assert client.get("/admin/").status_code == 302


def test_an_auditor_signs_in_with_the_password_alone(auditor):
    client = Client()

    response = sign_in(client, "auditor")

    assert response.status_code == 302
    assert client.get("/admin/payments/withdrawal/").status_code == 200


def test_an_auditor_who_enrolled_an_authenticator_gives_its_code(auditor):
    device = totp_device_for(auditor)

    without_code = sign_in(Client(), "auditor")
    with_code = sign_in(Client(), "auditor", code=totp_code(device))

    assert without_code.status_code == 200
    assert with_code.status_code == 302


def test_a_superuser_shows_a_new_authenticator_as_a_qr_code_and_no_role_can(
    reviewer, staff_in, client_for, django_user_model
):
    device = TOTPDevice.objects.create(user=reviewer, name="phone", confirmed=True)
    qrcode = f"/admin/otp_totp/totpdevice/{device.pk}/qrcode/"
    root = client_for(django_user_model.objects.create_superuser("root", password=PASSWORD))

    shown = root.get(qrcode)

    assert shown.status_code == 200
    assert shown["Content-Type"].startswith("image/svg+xml")
    assert client_for(staff_in("finance_supervisor")).get(qrcode).status_code == 403
