"""Alipay payout accounts over HTTP (docs/WITHDRAWALS.md, "Payout accounts"): a login id (a
mainland mobile number or an email) and the real name Alipay checks, sealed, indexed, masked;
and the routing of their withdrawals to the Alipay transfer channel."""

from decimal import Decimal

import pytest
from django.contrib.admin.sites import site
from django.db import IntegrityError, transaction
from django.test import RequestFactory

from payments import encryption
from payments.channels import selectors as channel_selectors
from payments.channels.models import Channel, PayoutAccountKind
from payments.withdrawals import payouts, services
from payments.withdrawals.models import PayoutAccount, Withdrawal
from wallet import errors
from wallet.models import Account

pytestmark = pytest.mark.django_db

PAYOUT_ACCOUNTS = "/api/v1/payout-accounts/"
MOBILE = "13812345678"
EMAIL = "zhang.san@example.com"
REAL_NAME = "张三丰"
ALIPAY_BODY = {"kind": "alipay", "login_id": MOBILE, "real_name": REAL_NAME}


def error_of(response) -> dict:
    return response.json()["error"]


def assert_no_secrets(*responses) -> None:
    for response in responses:
        text = response.content.decode()
        for secret in (MOBILE, EMAIL, REAL_NAME, "\\u5f20\\u4e09\\u4e30"):
            assert secret not in text, f"{secret!r} leaked"


def test_binding_an_alipay_mobile_answers_201_masked_and_stores_ciphertext(alice, api_client_for):
    # When alice binds her Alipay account by its mobile number, written as people write it
    response = api_client_for(alice).post(
        PAYOUT_ACCOUNTS, {**ALIPAY_BODY, "login_id": "+86 138-1234-5678"}, format="json"
    )

    # Then only masked values come back
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["kind"], body["display"], body["holder_name"], body["bank_code"]) == (
        "alipay",
        "138****5678",
        "张**",
        "",
    )
    assert_no_secrets(response)
    # And the database holds ciphertext that opens to the normalised login id and the name
    account = PayoutAccount.objects.get(pk=body["id"])
    assert (account.identifier, account.holder_name) == (MOBILE, REAL_NAME)
    assert account.lookup_index == encryption.blind_index(MOBILE, field=PayoutAccount.ALIPAY_LOGIN)
    raw = PayoutAccount.objects.filter(pk=account.pk).values_list(
        "alipay_login_sealed", "holder_name_sealed", "masked_number", "masked_holder", "lookup_index"
    )
    assert all(MOBILE not in column and REAL_NAME not in column for column in raw.get())
    assert (account.openid_sealed, account.card_number_sealed) == ("", "")


def test_binding_an_alipay_email_masks_all_but_its_first_letter_and_domain(alice, api_client_for):
    response = api_client_for(alice).post(
        PAYOUT_ACCOUNTS, {**ALIPAY_BODY, "login_id": " Zhang.San@Example.com "}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["display"] == "z***@example.com"
    assert PayoutAccount.objects.get(user=alice).identifier == EMAIL
    assert_no_secrets(response)


def test_binding_the_same_alipay_login_twice_answers_200_with_the_same_account(alice, api_client_for):
    client = api_client_for(alice)

    first = client.post(PAYOUT_ACCOUNTS, ALIPAY_BODY, format="json")
    again = client.post(PAYOUT_ACCOUNTS, {**ALIPAY_BODY, "login_id": "138 1234 5678"}, format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert PayoutAccount.objects.filter(user=alice).count() == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"login_id": "12812345678"}, "login_id"),  # not a mainland mobile prefix
        ({"login_id": "1381234567"}, "login_id"),  # 10 digits
        ({"login_id": "zhangsan"}, "login_id"),
        ({"login_id": "zhang@"}, "login_id"),
        ({"login_id": ""}, "login_id"),
        ({"login_id": "a" * 95 + "@x.com"}, "login_id"),
        ({"real_name": ""}, "real_name"),
        ({"real_name": "   "}, "real_name"),
        ({"real_name": "张三3"}, "real_name"),
        ({"real_name": "<script>"}, "real_name"),
        ({"real_name": "张" * 51}, "real_name"),
    ],
)
def test_a_bad_alipay_account_is_a_400_naming_the_field_and_binds_nothing(alice, api_client_for, changes, field):
    response = api_client_for(alice).post(PAYOUT_ACCOUNTS, {**ALIPAY_BODY, **changes}, format="json")

    assert response.status_code == 400, response.json()
    error = error_of(response)
    assert error["code"] == "validation_error"
    assert field in error["fields"]
    assert not PayoutAccount.objects.exists()
    assert_no_secrets(response)


def test_the_list_shows_alipay_accounts_masked_beside_the_others(alice, api_client_for, card_account):
    card_account(alice)
    client = api_client_for(alice)
    client.post(PAYOUT_ACCOUNTS, ALIPAY_BODY, format="json")

    listed = client.get(PAYOUT_ACCOUNTS)

    assert listed.status_code == 200
    assert [(row["kind"], row["display"]) for row in listed.json()] == [
        ("alipay", "138****5678"),
        ("bank_card", f"ICBC **** {card_account(alice).masked_number[-4:]}"),
    ]
    assert_no_secrets(listed)


def test_the_schema_offers_the_alipay_bind_input_by_kind(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    bind = schema["components"]["schemas"]["PayoutAccountBindInput"]
    assert bind["discriminator"]["mapping"]["alipay"] == "#/components/schemas/AlipayBindInput"
    alipay = schema["components"]["schemas"]["AlipayBindInput"]
    assert set(alipay["required"]) == {"kind", "login_id", "real_name"}


def test_the_database_refuses_an_alipay_account_without_its_real_name(alice):
    account = PayoutAccount(
        user=alice,
        kind=PayoutAccountKind.ALIPAY,
        alipay_login_sealed=encryption.seal(MOBILE, field=PayoutAccount.ALIPAY_LOGIN),
        lookup_index="x",
        masked_number="138****5678",
    )

    with pytest.raises(IntegrityError), transaction.atomic():
        account.save()


def test_the_admin_finds_an_alipay_account_by_its_full_login_id_without_decrypting(alice, admin_user):
    account, _ = services.payout_account_bind(user=alice, kind="alipay", login_id=EMAIL, real_name=REAL_NAME)
    model_admin = site._registry[PayoutAccount]
    request = RequestFactory().get("/")
    request.user = admin_user

    found, _ = model_admin.get_search_results(request, PayoutAccount.objects.all(), "ZHANG.SAN@example.com")

    assert list(found) == [account]
    assert str(account) == "z***@example.com"


# Routing


def test_an_alipay_account_routes_to_the_alipay_transfer_channel_created_by_migration(alice):
    channel = Channel.objects.get(code="alipay_transfer")

    chosen = channel_selectors.payout_channel_for(kind=PayoutAccountKind.ALIPAY, amount=channel.min_amount)

    assert chosen == channel
    assert (channel.adapter, channel.payout_account_kind, channel.enabled) == ("alipay", "alipay", True)
    assert (str(channel.min_amount), str(channel.max_amount)) == ("0.10", "50000.00")
    assert channel_selectors.payout_channel_for(kind=PayoutAccountKind.BANK_CARD, amount=channel.min_amount) != channel


def test_no_channel_takes_an_alipay_withdrawal_above_alipays_single_transfer_maximum():
    assert channel_selectors.payout_channel_for(kind=PayoutAccountKind.ALIPAY, amount=Decimal("50000.00")) is not None
    assert channel_selectors.payout_channel_for(kind=PayoutAccountKind.ALIPAY, amount=Decimal("50000.01")) is None


def test_a_withdrawal_to_an_alipay_account_is_priced_by_its_channel_and_carries_login_and_name(
    alice, funded_account, submit
):
    # Given alice with money and a bound Alipay account
    funded_account(alice, "500.00")
    account, _ = services.payout_account_bind(user=alice, kind="alipay", login_id=MOBILE, real_name=REAL_NAME)

    # When she withdraws 100.00 to it
    withdrawal = submit(alice, "100.00", payout_account=account)

    # Then it goes to the Alipay transfer channel, and its request names the login id and the name
    assert withdrawal.channel.code == "alipay_transfer"
    assert (str(withdrawal.fee), str(withdrawal.actual_amount)) == ("0.10", "99.90")
    request = payouts._payout_request(withdrawal)
    assert (request.payee, request.payee_name, request.amount) == (MOBILE, REAL_NAME, withdrawal.actual_amount)


@pytest.mark.parametrize("amount", ["0.11", "0.19"])
def test_a_withdrawal_that_would_pay_out_less_than_the_channels_minimum_is_refused_and_holds_nothing(
    alice, funded_account, amount
):
    # Given alice with money and a bound Alipay account (minimum 0.10, fee at least 0.10)
    funded_account(alice, "5.00")
    account, _ = services.payout_account_bind(user=alice, kind="alipay", login_id=MOBILE, real_name=REAL_NAME)

    # When she withdraws so little that less than 0.10 would reach Alipay
    with pytest.raises(errors.ValidationFailed) as refused:
        services.withdrawal_submit(user=alice, payout_account=account, amount=Decimal(amount), idempotency_key="tiny")

    # Then it is refused on the amount, and no order or hold is made
    assert refused.value.fields == {"amount": "below_minimum"}
    assert not Withdrawal.objects.exists()
    assert Account.objects.get(owner=alice).held == Decimal("0.00")
