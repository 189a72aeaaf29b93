"""Sensitive fields at rest: AES-256-GCM with random nonces, key rotation, blind indexes, masking."""

import base64
import logging
import os
from io import StringIO

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection

from payments import encryption, identifiers
from payments.conftest import CARD_NUMBER, OPENID, OTHER_CARD_NUMBER
from payments.withdrawals import services
from payments.withdrawals.models import PayoutAccount
from wallet import errors

pytestmark = pytest.mark.django_db

FIELD = PayoutAccount.CARD_NUMBER


def new_key(key_id: str) -> str:
    return f"{key_id}:{base64.b64encode(os.urandom(32)).decode()}"


def raw_columns(account: PayoutAccount) -> dict[str, str]:
    """The row as PostgreSQL stores it, bypassing the model."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT openid_sealed, card_number_sealed, holder_name_sealed FROM payments_payoutaccount WHERE id = %s",
            [account.pk],
        )
        openid, card, holder = cursor.fetchone()
    return {"openid_sealed": openid, "card_number_sealed": card, "holder_name_sealed": holder}


def test_a_sealed_value_opens_again_and_is_aes_256_gcm_under_the_current_key(settings):
    key = new_key("k1")
    settings.FIELD_ENCRYPTION_KEYS = key
    sealed = encryption.seal(CARD_NUMBER, field=FIELD)

    assert encryption.unseal(sealed, field=FIELD) == CARD_NUMBER
    # Independently: key id, then base64 of a 12-byte nonce and the GCM ciphertext with its tag
    key_id, payload = sealed.split("$")
    raw = base64.b64decode(payload)
    secret = base64.b64decode(key.split(":", 1)[1])
    assert key_id == "k1"
    assert len(raw) == 12 + len(CARD_NUMBER) + 16
    assert AESGCM(secret).decrypt(raw[:12], raw[12:], FIELD.encode()).decode() == CARD_NUMBER


def test_equal_values_give_different_ciphertexts():
    assert encryption.seal(CARD_NUMBER, field=FIELD) != encryption.seal(CARD_NUMBER, field=FIELD)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda sealed: sealed[:-2] + ("AA" if not sealed.endswith("AA") else "BB"),  # the tag
        lambda sealed: "unknown" + sealed[sealed.index("$") :],  # a key we do not have
        lambda sealed: sealed.split("$")[0] + "$not base64!",
        lambda sealed: sealed.split("$")[0] + "$" + base64.b64encode(b"short").decode(),
    ],
)
def test_a_tampered_or_foreign_value_does_not_open(tamper):
    sealed = encryption.seal(CARD_NUMBER, field=FIELD)

    with pytest.raises(encryption.DecryptionError):
        encryption.unseal(tamper(sealed), field=FIELD)


def test_a_ciphertext_moved_to_another_column_does_not_open():
    sealed = encryption.seal("张三", field=PayoutAccount.HOLDER_NAME)

    with pytest.raises(encryption.DecryptionError):
        encryption.unseal(sealed, field=PayoutAccount.OPENID)


@pytest.mark.parametrize(
    "spec",
    ["", "k1", "k1:not-base64!", f"k1:{base64.b64encode(b'16 bytes only!!!').decode()}", "k1:{0},k1:{0}", "a$b:{0}"],
)
def test_a_bad_key_configuration_is_refused_with_a_clear_error(settings, spec):
    settings.FIELD_ENCRYPTION_KEYS = spec.format(base64.b64encode(os.urandom(32)).decode())

    with pytest.raises(ImproperlyConfigured):
        encryption.seal("x", field=FIELD)


def test_the_database_holds_ciphertext_that_differs_for_equal_card_numbers(make_user, card_account):
    # Given two users who bind the same card
    first, second = card_account(make_user()), card_account(make_user())

    # Then no column holds the number, the name or the openid, and the ciphertexts differ
    for account in (first, second):
        stored = " ".join(raw_columns(account).values())
        assert CARD_NUMBER not in stored and "张三" not in stored
        assert CARD_NUMBER[-4:] in account.masked_number
    assert raw_columns(first)["card_number_sealed"] != raw_columns(second)["card_number_sealed"]
    # And both open to the number, and share one blind index
    assert first.identifier == second.identifier == CARD_NUMBER
    assert first.lookup_index == second.lookup_index


def test_rotation_keeps_old_rows_readable_new_writes_use_the_newest_key_and_the_command_reseals(
    settings, make_user, card_account, wechat_account
):
    # Given accounts sealed under k1
    settings.FIELD_ENCRYPTION_KEYS = new_key("k1")
    old_card = card_account(make_user())
    old_wechat = wechat_account(make_user())

    # When k2 is put first, with k1 kept after it
    settings.FIELD_ENCRYPTION_KEYS = f"{new_key('k2')},{settings.FIELD_ENCRYPTION_KEYS}"

    # Then old rows still open, and a new account is sealed under k2
    assert PayoutAccount.objects.get(pk=old_card.pk).identifier == CARD_NUMBER
    new_card = card_account(make_user(), card_number=OTHER_CARD_NUMBER)
    assert raw_columns(new_card)["card_number_sealed"].startswith("k2$")
    assert raw_columns(old_card)["card_number_sealed"].startswith("k1$")

    # When the rotation command runs (in batches of one)
    out = StringIO()
    call_command("rotate_encryption_keys", batch_size=1, stdout=out)

    # Then every sealed column is under k2, and nothing needs k1 any more
    assert "Re-sealed 2 payout account(s) under key k2." in out.getvalue()
    settings.FIELD_ENCRYPTION_KEYS = settings.FIELD_ENCRYPTION_KEYS.split(",")[0]
    for account in PayoutAccount.objects.all():
        for column, value in raw_columns(account).items():
            assert value == "" or value.startswith("k2$"), column
    assert PayoutAccount.objects.get(pk=old_card.pk).identifier == CARD_NUMBER
    assert PayoutAccount.objects.get(pk=old_card.pk).holder_name == "张三"
    assert PayoutAccount.objects.get(pk=old_wechat.pk).identifier == OPENID
    # A second run has nothing left to do
    call_command("rotate_encryption_keys", stdout=(out := StringIO()))
    assert "Re-sealed 0" in out.getvalue()


def test_the_blind_index_is_keyed_deterministic_and_separate_per_field(settings):
    index = encryption.blind_index(CARD_NUMBER, field=FIELD)

    assert index == encryption.blind_index(CARD_NUMBER, field=FIELD)
    assert index != encryption.blind_index(CARD_NUMBER, field=PayoutAccount.OPENID)
    assert len(index) == 64 and CARD_NUMBER not in index
    settings.BLIND_INDEX_KEY = "another-key"
    assert encryption.blind_index(CARD_NUMBER, field=FIELD) != index


def test_binding_the_same_card_twice_returns_the_first_binding(make_user):
    user = make_user()
    first, created = services.payout_account_bind(
        user=user, kind="bank_card", card_number=CARD_NUMBER, holder_name="张三", bank_code="ICBC"
    )
    spaced = " ".join(CARD_NUMBER[i : i + 4] for i in range(0, len(CARD_NUMBER), 4))
    again, created_again = services.payout_account_bind(
        user=user, kind="bank_card", card_number=spaced, holder_name="张三", bank_code="icbc"
    )

    assert (created, created_again) == (True, False)
    assert again.pk == first.pk


WRONG_CHECK_DIGIT = CARD_NUMBER[:-1] + str((int(CARD_NUMBER[-1]) + 1) % 10)


@pytest.mark.parametrize(
    "number",
    [WRONG_CHECK_DIGIT, "1234", "12345678901234567890", "4111 1111 1111 111x", "４１１１４１１１４１１１４１１１"],
)
def test_card_numbers_must_pass_the_luhn_check_and_errors_never_repeat_them(make_user, number):
    with pytest.raises(errors.ValidationFailed) as refused:
        services.payout_account_bind(
            user=make_user(), kind="bank_card", card_number=number, holder_name="A", bank_code="ICBC"
        )

    assert "card_number" in refused.value.fields
    assert number not in str(refused.value.message) + str(refused.value.fields)
    assert not PayoutAccount.objects.exists()


def test_the_luhn_check_accepts_known_test_numbers():
    for number in ("4111111111111111", "5500005555555559", "6011000990139424", "378282246310005"):
        assert identifiers.luhn_valid(number)
    assert not identifiers.luhn_valid("4111111111111112")


def test_masks_show_only_the_ends():
    assert identifiers.card_number_mask(CARD_NUMBER) == f"**** {CARD_NUMBER[-4:]}"
    assert identifiers.openid_mask(OPENID) == "oUp***S6o"
    assert identifiers.openid_mask("abcdef") == "a***f"
    assert identifiers.name_mask("张三丰") == "张**"


def test_nothing_sensitive_is_logged_while_binding_and_withdrawing(
    make_user, funded_account, caplog, settings, card_account, wechat_account, submit
):
    # Given every logger at DEBUG, SQL included
    settings.DEBUG = True
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django")
    user = make_user()
    funded_account(user, "500.00")

    # When a card and an openid are bound and withdrawn to
    submit(user, "10.00", payout_account=card_account(user))
    submit(user, "10.00", payout_account=wechat_account(user))
    with pytest.raises(errors.ValidationFailed):
        services.payout_account_bind(user=user, kind="bank_card", card_number="4111111111111112", bank_code="ICBC")

    # Then no log line carries the card number, the openid or the holder's name
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "payments_payoutaccount" in logged  # the SQL was logged, so the check saw it
    for secret in (CARD_NUMBER, OPENID, "张三", "4111111111111112"):
        assert secret not in logged
