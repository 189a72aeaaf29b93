"""Recharges, payments and refunds over HTTP (docs/ARCHITECTURE.md §9) where no channel is called: balance
payments of the orders a merchant made and their refunds, the error envelope for bad input,
idempotency, and privacy."""

from decimal import Decimal
from itertools import count

import pytest
from rest_framework.test import APIClient

from config.tests.metrics import metric
from payments.channels import registry
from payments.channels.models import Channel
from payments.notify import api as notify_view
from payments.orders.models import PaymentEvent, PaymentOrder, Refund
from wallet.models import Account

pytestmark = pytest.mark.django_db

D = Decimal
RECHARGES = "/api/v1/recharges/"
PAYMENTS = "/api/v1/payments/"
MERCHANT_PAYMENTS = "/api/v1/merchant/payments/"
_keys = count(1)
BALANCE = {"method": "balance", "client_type": "app"}


def post(client: APIClient, url: str, body: dict, *, key: str | None = None):
    return client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key or f"key-{next(_keys)}")


def pay_url(order_no: str) -> str:
    return f"{PAYMENTS}{order_no}/pay/"


def refunds_url(order_no: str) -> str:
    return f"{MERCHANT_PAYMENTS}{order_no}/refunds/"


@pytest.fixture
def shop_client(api_client_for, refunder) -> APIClient:
    return api_client_for(refunder)


@pytest.fixture
def order_for(shop_client):
    """The shop's server creates a 30.00 order payment for ``payer``; answers its number."""

    def create(payer, *, amount: str = "30.00", business_order_no: str = "BO-1") -> str:
        body = {"business_order_no": business_order_no, "amount": amount, "subject": "A cup of tea"}
        response = post(shop_client, MERCHANT_PAYMENTS, body | {"payer": payer.username})
        assert response.status_code == 201, response.json()
        return response.json()["order_no"]

    return create


def test_a_balance_payment_answers_success_and_the_refund_returns_the_money(
    alice, shop_client, order_for, funded_account, api_client_for
):
    funded_account(alice, "100.00")
    client = api_client_for(alice)
    order_no = order_for(alice)

    paid = post(client, pay_url(order_no), BALANCE)

    assert paid.status_code == 201, paid.json()
    body = paid.json()
    assert {key: body[key] for key in ("status", "amount", "method", "channel", "business_order_no", "pay")} == {
        "status": "success",
        "amount": "30.00",
        "method": "balance",
        "channel": None,
        "business_order_no": "BO-1",
        "pay": {},
    }
    assert client.get(f"{PAYMENTS}{order_no}/").json()["status"] == "success"

    refunded = post(shop_client, refunds_url(order_no), {"amount": "12.50", "reason": "cold tea"})

    assert refunded.status_code == 201, refunded.json()
    refund = refunded.json()
    assert (refund["status"], refund["amount"], refund["order_no"]) == ("success", "12.50", order_no)
    assert client.get(f"/api/v1/refunds/{refund['refund_no']}/").json()["status"] == "success"
    assert Account.objects.get(owner=alice).balance == D("82.50")
    assert client.get(f"{PAYMENTS}{order_no}/").json()["refunded_amount"] == "12.50"


def test_paying_again_the_same_way_answers_the_order_and_debits_once(alice, order_for, funded_account, api_client_for):
    funded_account(alice, "100.00")
    client = api_client_for(alice)
    order_no = order_for(alice)

    first = post(client, pay_url(order_no), BALANCE, key="same")
    again = post(client, pay_url(order_no), BALANCE, key="other")
    other_way = post(client, pay_url(order_no), {"method": "wechat_native", "client_type": "web"})

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["order_no"] == first.json()["order_no"] == order_no
    assert other_way.status_code == 409 and other_way.json()["error"]["code"] == "conflict"
    assert Account.objects.get(owner=alice).balance == D("70.00")


def test_a_payment_the_balance_cannot_cover_is_insufficient_funds(alice, order_for, funded_account, api_client_for):
    funded_account(alice, "10.00")
    order_no = order_for(alice)

    response = post(api_client_for(alice), pay_url(order_no), BALANCE)

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "insufficient_funds"
    assert PaymentOrder.objects.get().status == PaymentOrder.Status.AWAITING


def test_a_refund_over_the_paid_amount_is_limit_exceeded_with_what_is_left(
    alice, shop_client, order_for, funded_account, api_client_for
):
    funded_account(alice, "100.00")
    order_no = order_for(alice)
    post(api_client_for(alice), pay_url(order_no), BALANCE)
    post(shop_client, refunds_url(order_no), {"amount": "20.00"})

    response = post(shop_client, refunds_url(order_no), {"amount": "10.01"})

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "limit_exceeded"
    assert response.json()["error"]["fields"] == {"amount": "exceeds_refundable", "refundable": "10.00"}
    assert Refund.objects.count() == 1


MERCHANT_ORDER = {"business_order_no": "BO-1", "amount": "30.00", "subject": "A cup of tea", "payer": "alice"}


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        (MERCHANT_PAYMENTS, {**MERCHANT_ORDER, "amount": "1.001"}, "amount"),
        (MERCHANT_PAYMENTS, {**MERCHANT_ORDER, "amount": "NaN"}, "amount"),
        (MERCHANT_PAYMENTS, {**MERCHANT_ORDER, "amount": "1e3"}, "amount"),
        (MERCHANT_PAYMENTS, {**MERCHANT_ORDER, "amount": "0"}, "amount"),
        (MERCHANT_PAYMENTS, {**MERCHANT_ORDER, "amount": 12.5}, "amount"),
        (
            MERCHANT_PAYMENTS,
            {key: value for key, value in MERCHANT_ORDER.items() if key != "business_order_no"},
            "business_order_no",
        ),
        (RECHARGES, {"method": "balance", "amount": "10.00", "client_type": "app"}, "method"),
        (
            RECHARGES,
            {"method": "wechat_native", "amount": "10.00", "client_type": "web", "return_url": "x"},
            "return_url",
        ),
    ],
)
def test_bad_input_is_a_validation_error_naming_the_field_and_changes_nothing(
    alice, shop_client, api_client_for, url, body, field
):
    client = shop_client if url == MERCHANT_PAYMENTS else api_client_for(alice)

    response = post(client, url, body)

    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert error["code"] == "validation_error" and field in error["fields"]
    assert not PaymentOrder.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**BALANCE, "method": "cash"}, "method"),
        ({**BALANCE, "client_type": "fax"}, "client_type"),
        ({"method": "alipay_page", "client_type": "app"}, "client_type"),
        ({"method": "wechat_jsapi", "client_type": "wechat"}, "payer_id"),
        ({**BALANCE, "amount": "0.01"}, "amount"),
    ],
)
def test_bad_means_of_payment_are_a_validation_error_naming_the_field_and_change_nothing(
    alice, order_for, funded_account, api_client_for, body, field
):
    funded_account(alice, "100.00")
    order_no = order_for(alice)

    response = post(api_client_for(alice), pay_url(order_no), body)

    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert error["code"] == "validation_error" and field in error["fields"]
    assert PaymentOrder.objects.get().status == PaymentOrder.Status.AWAITING
    assert Account.objects.get(owner=alice).balance == D("100.00")


def test_a_post_without_an_idempotency_key_is_refused(shop_client):
    response = shop_client.post(MERCHANT_PAYMENTS, MERCHANT_ORDER, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"Idempotency-Key": "required"}


def test_another_users_payment_and_refund_are_not_found(
    alice, bob, shop_client, order_for, funded_account, api_client_for
):
    funded_account(alice, "100.00")
    alices = api_client_for(alice)
    order_no = order_for(alice)
    post(alices, pay_url(order_no), BALANCE)
    refund_no = post(shop_client, refunds_url(order_no), {"amount": "1.00"}).json()["refund_no"]
    bobs = api_client_for(bob)

    responses = [
        bobs.get(f"{PAYMENTS}{order_no}/"),
        bobs.get(f"{RECHARGES}{order_no}/"),
        bobs.get(f"/api/v1/refunds/{refund_no}/"),
        post(bobs, pay_url(order_no), BALANCE),
    ]

    assert [response.status_code for response in responses] == [404, 404, 404, 404]
    assert {response.json()["error"]["code"] for response in responses} == {"not_found"}
    assert alices.get(f"/api/v1/refunds/{refund_no}/").status_code == 200  # the payer sees their refund


@pytest.mark.parametrize("payer_is_caller", [True, False])
def test_only_the_merchants_account_may_refund(alice, bob, order_for, funded_account, api_client_for, payer_is_caller):
    funded_account(alice, "100.00")
    alices = api_client_for(alice)
    order_no = order_for(alice)
    post(alices, pay_url(order_no), BALANCE)

    response = post(alices if payer_is_caller else api_client_for(bob), refunds_url(order_no), {"amount": "1.00"})

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert not Refund.objects.exists()
    assert Account.objects.get(owner=alice).balance == D("70.00")


def test_a_payment_is_not_found_under_recharges(alice, order_for, api_client_for):
    client = api_client_for(alice)
    order_no = order_for(alice)

    assert client.get(f"{RECHARGES}{order_no}/").status_code == 404


def test_no_enabled_channel_for_the_method_is_no_channel(alice, api_client_for):
    Channel.objects.filter(code="alipay").update(enabled=False)

    response = post(
        api_client_for(alice), RECHARGES, {"method": "alipay_page", "amount": "10.00", "client_type": "web"}
    )

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "no_channel"
    assert not PaymentOrder.objects.exists()


def test_the_api_needs_a_token(alice):
    assert APIClient().post(MERCHANT_PAYMENTS, MERCHANT_ORDER, format="json").status_code == 401
    assert APIClient().post(pay_url("PM20261128000000000000001"), BALANCE, format="json").status_code == 401


def test_with_the_sandbox_off_a_channel_without_credentials_is_never_routed_nor_notified(
    alice, api_client_for, settings
):
    settings.SANDBOX_ENABLED = False

    recharge = post(
        api_client_for(alice), RECHARGES, {"method": "alipay_page", "amount": "10.00", "client_type": "web"}
    )
    notify = APIClient().post("/api/v1/notify/alipay/", {"trade_status": "TRADE_SUCCESS"})

    assert recharge.status_code == 422 and recharge.json()["error"]["code"] == "no_channel"
    assert notify.status_code == 404
    assert not PaymentOrder.objects.exists()


def test_rejected_notifies_are_stored_up_to_the_cap_and_counted_beyond_it():
    cap = notify_view.REJECTED_EVENTS_PER_MINUTE.amount
    before = metric("wallet_notify_refused_total", channel="wechat_pay", reason="not_genuine")

    replies = [
        APIClient().post("/api/v1/notify/wechat_pay/", b"{}", content_type="application/json") for _ in range(cap + 3)
    ]

    assert {reply.status_code for reply in replies} == {400}
    assert PaymentEvent.objects.filter(outcome="refused", kind="notify").count() == cap
    assert metric("wallet_notify_refused_total", channel="wechat_pay", reason="not_genuine") == before + cap + 3


@pytest.mark.parametrize(
    ("channel_code", "body", "content_type"),
    [
        ("wechat_pay", b'{"id": "forged", "resource": {}}', "application/json"),
        ("wechat_v2_pay", b"<xml><return_code>SUCCESS</return_code></xml>", "text/xml"),
        ("alipay", b"trade_status=TRADE_SUCCESS&out_trade_no=P1&sign=forged", "application/x-www-form-urlencoded"),
        ("bank", b'{"order_no": "WD1", "status": "SUCCESS", "sign": "forged"}', "application/json"),
    ],
)
def test_a_forged_notify_is_a_400_with_the_protocols_failure_answer(channel_code, body, content_type):
    # given what the channel's protocol answers a notify it should send again
    failure = registry.adapter_for(Channel.objects.get(code=channel_code)).notify_reply(accepted=False)

    # when a notify without the channel's signature arrives
    reply = APIClient().post(f"/api/v1/notify/{channel_code}/", body, content_type=content_type)

    # then it is refused as a bad request, never as our own failure, in the protocol's words
    assert reply.status_code == 400
    assert (reply.content, reply["Content-Type"]) == (failure.body, failure.content_type)


def test_the_notify_endpoint_answers_an_unknown_channel_and_other_methods_with_the_error_envelope():
    unknown = APIClient().post("/api/v1/notify/no_such_channel/", b"{}", content_type="application/json")
    get = APIClient().get("/api/v1/notify/wechat_pay/")

    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "not_found")
    assert (get.status_code, get.json()["error"]["code"]) == (405, "method_not_allowed")


@pytest.mark.parametrize(
    ("header", "expected"), [("", "127.0.0.1"), ("X-Real-IP", "203.0.113.7"), ("X-Not-An-Address", "127.0.0.1")]
)
def test_the_payers_address_comes_from_the_trusted_proxys_header_when_one_is_set(
    alice, order_for, funded_account, api_client_for, settings, header, expected
):
    settings.CLIENT_IP_HEADER = header
    funded_account(alice, "100.00")

    response = api_client_for(alice).post(
        pay_url(order_for(alice)),
        BALANCE,
        format="json",
        HTTP_IDEMPOTENCY_KEY="ip",
        HTTP_X_REAL_IP="198.51.100.1, 203.0.113.7",  # what the client claimed, then what the proxy saw
        HTTP_X_NOT_AN_ADDRESS="not-an-ip",
    )

    assert response.status_code == 201
    assert PaymentOrder.objects.get().client_ip == expected


@pytest.mark.parametrize(
    "number", ["PM2026%00", "x" * 5000, "pm20261128000000000000001", "PM20261128000000000000001%0A"]
)
def test_a_malformed_order_or_refund_number_is_not_found_and_looked_up_nowhere(alice, api_client_for, number):
    client = api_client_for(alice)

    responses = [
        client.get(f"{PAYMENTS}{number}/"),
        client.get(f"{RECHARGES}{number}/"),
        client.post(f"{PAYMENTS}{number}/close/"),
        client.post(pay_url(number), BALANCE, format="json"),
        client.get(f"/api/v1/refunds/{number}/"),
        client.get(f"/api/v1/withdrawals/{number}/"),
        client.post(f"/api/v1/withdrawals/{number}/cancel/"),
    ]

    assert [response.status_code for response in responses] == [404] * 7
    assert {response.json()["error"]["code"] for response in responses} == {"not_found"}


def test_an_idempotency_key_with_control_characters_is_refused(shop_client):
    response = shop_client.post(MERCHANT_PAYMENTS, MERCHANT_ORDER, format="json", HTTP_IDEMPOTENCY_KEY="k\x01")

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"Idempotency-Key": "required"}
    assert not PaymentOrder.objects.exists()


def test_full_width_digits_are_not_an_amount(alice, shop_client):
    response = post(shop_client, MERCHANT_PAYMENTS, {**MERCHANT_ORDER, "amount": "１２"})

    assert response.status_code == 400 and "amount" in response.json()["error"]["fields"]
    assert not PaymentOrder.objects.exists()


@pytest.mark.parametrize("amount", [" 1.00 ", "1.00 ", "\t1.00", 1, 1.0])
def test_every_money_post_refuses_an_amount_the_schema_does_not_describe(
    alice, bob, shop_client, order_for, funded_account, card_account, api_client_for, amount
):
    # Given alice with money, a bound card and a paid order the merchant could refund
    funded_account(alice, "100.00")
    client = api_client_for(alice)
    card = card_account(alice)
    paid = post(client, pay_url(order_for(alice)), BALANCE).json()
    before = (PaymentOrder.objects.count(), Refund.objects.count(), Account.objects.get(owner=alice).balance)

    # When each money-moving POST gets the amount padded or as a number
    replies = [
        post(client, "/api/v1/transfers/", {"to": "bob", "amount": amount}),
        post(client, "/api/v1/withdrawals/", {"payout_account": card.pk, "amount": amount}),
        post(client, RECHARGES, {"method": "wechat_native", "client_type": "web", "amount": amount}),
        post(shop_client, MERCHANT_PAYMENTS, MERCHANT_ORDER | {"business_order_no": "BO-2", "amount": amount}),
        post(shop_client, refunds_url(paid["order_no"]), {"amount": amount}),
    ]

    # Then each is a validation error on the amount, and nothing changed
    assert [reply.status_code for reply in replies] == [400] * 5
    assert {reply.json()["error"]["code"] for reply in replies} == {"validation_error"}
    assert all("amount" in reply.json()["error"]["fields"] for reply in replies)
    assert (PaymentOrder.objects.count(), Refund.objects.count(), Account.objects.get(owner=alice).balance) == before
    assert not alice.withdrawals.exists()
    assert not Account.objects.filter(owner=bob).exclude(balance=0).exists()


def test_a_method_the_client_cannot_use_is_refused_in_plain_words(alice, api_client_for):
    response = post(
        api_client_for(alice), RECHARGES, {"method": "alipay_page", "client_type": "app", "amount": "10.00"}
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["fields"] == {"client_type": "method_not_available"}
    assert error["message"] == "alipay_page cannot be used from the client type app."
    assert not PaymentOrder.objects.exists()
