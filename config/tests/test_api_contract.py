"""The API answers as its OpenAPI schema says: Schemathesis sends generated requests, valid and
invalid, to every operation of ``/api/schema/`` on the live server, with every check on: each
status, media type, header and body as documented, invalid input refused, valid input
accepted or refused only with a documented business error. Its settings, and why each is
there, are in ``schemathesis.toml`` beside this file."""

import subprocess
import sys

import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from conftest import PAYMENT_PASSWORD
from payments.merchants.tests.factories import awaiting_order, merchant_new, order_payment
from payments.withdrawals import services as payments
from wallet.ratelimit import rate_limiter

CONFIG = __file__.removesuffix("test_api_contract.py") + "schemathesis.toml"
RUN_TIMEOUT = 600


@pytest.fixture
def client_token(live_server, make_user, funded_account, settings) -> str:
    """A funded client that is also a merchant's service account (so the merchant endpoints get
    past 403), with a paid order of its own to refund, two payout accounts, and orders another
    merchant made for it to pay (one paid); another user to send money to and create orders for. Channels are the
    sandbox on the live server. The rates are raised: the run is one client sending hundreds of
    requests a minute, and the throttles would answer most of them instead of the rules under
    test."""
    settings.PUBLIC_BASE_URL = live_server.url
    settings.SANDBOX_BASE_URL = f"{live_server.url}/sandbox"
    settings.THROTTLE_RATES = dict.fromkeys(settings.THROTTLE_RATES, "100000/minute")
    rate_limiter().storage.reset()
    client = make_user("contract")
    funded_account(client, "50000.00")
    bob = make_user("bob")
    funded_account(bob, "1000.00")
    own = merchant_new("contract", service_user=client)
    other = merchant_new("other-shop")
    order_payment(bob, "35.00", merchant=own, business_order_no="B-1")
    order_payment(client, "35.00", merchant=other, business_order_no="B-1")
    awaiting_order(client, "12.00", merchant=other, business_order_no="B-2")
    payments.payout_account_bind(
        user=client, kind="bank_card", card_number="6222020200112233446", holder_name="张三", bank_code="ICBC"
    )
    payments.payout_account_bind(user=client, kind="wechat_openid", openid="oUpF8uMuAJO_M2pxb1Q9zNjWeS6o")
    return Token.objects.create(user=client).key


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_every_operation_answers_as_the_schema_says(live_server, client_token, tmp_path):
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--no-color",
        "--config-file",
        CONFIG,
        "run",
        f"{live_server.url}/api/schema/",
        "--checks",
        "all",
        "--header",
        f"Authorization: Token {client_token}",
        "--header",
        f"Payment-Password: {PAYMENT_PASSWORD}",
    ]
    result = subprocess.run(  # noqa: S603
        command, cwd=tmp_path, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False
    )

    assert result.returncode == 0, result.stdout[-30_000:] + result.stderr[-5_000:]


def test_the_schema_is_valid_openapi_and_generates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))
