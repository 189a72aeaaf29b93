"""The merchant's API and the payer's pay endpoint, on the real database: merchants create order
payments, payers pay exactly those at the merchant's amount, merchants see only their own."""

from decimal import Decimal
from itertools import count

import pytest

from payments.merchants.tests.factories import merchant_new
from payments.orders.models import PaymentOrder, Refund
from reconciliation.internal import internal_differences
from reconciliation.tests.internal_support import recharged
from wallet.audit import ledger_audit
from wallet.models import Account
from wallet.selectors import account_balance

pytestmark = pytest.mark.django_db

D = Decimal
MERCHANT_PAYMENTS = "/api/v1/merchant/payments/"
_keys = count(1)


def post(client, url: str, body: dict, *, key: str | None = None):
    return client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key or f"key-{next(_keys)}")


def order_body(payer, **extra) -> dict:
    return {"business_order_no": "SO-1", "amount": "30.00", "subject": "A cup of tea", "payer": payer.username} | extra


@pytest.fixture
def shop_client(api_client_for, refunder):
    return api_client_for(refunder)


@pytest.fixture
def funded_account():
    """Wallets funded by recharges the channel collected, so the internal reconciliation can
    explain every balance."""

    def fund(user, amount: str) -> None:
        recharged(user, amount)

    return fund


def test_a_merchant_creates_an_order_payment_that_awaits_its_payer(shop_client, shop, alice):
    # When the shop's server creates the payment of its order SO-1 for alice
    response = post(shop_client, MERCHANT_PAYMENTS, order_body(alice, notify_url="https://shop.example/hook"))

    # Then it awaits alice, at the shop's amount, settling to the shop's own account
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["status"], body["amount"], body["payer"], body["method"]) == ("awaiting", "30.00", "alice", "")
    assert (body["notify_url"], body["refunds"]) == ("https://shop.example/hook", [])
    order = PaymentOrder.objects.get(order_no=body["order_no"])
    assert (order.merchant, order.merchant_account.code, order.user) == (shop, "merchant:shop", alice)


def test_the_same_key_and_body_answer_the_first_order_and_another_body_is_a_conflict(shop_client, alice):
    first = post(shop_client, MERCHANT_PAYMENTS, order_body(alice), key="k")
    again = post(shop_client, MERCHANT_PAYMENTS, order_body(alice), key="k")
    other = post(shop_client, MERCHANT_PAYMENTS, order_body(alice, amount="31.00"), key="k")

    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json()["order_no"] == first.json()["order_no"]
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_conflict"
    assert PaymentOrder.objects.count() == 1


def test_a_second_create_for_a_live_business_order_names_the_existing_order(shop_client, alice, bob):
    # Given SO-1 awaiting alice
    first = post(shop_client, MERCHANT_PAYMENTS, order_body(alice)).json()

    # When the shop creates SO-1 again under another key, with the same terms and then with others
    same = post(shop_client, MERCHANT_PAYMENTS, order_body(alice))
    other = post(shop_client, MERCHANT_PAYMENTS, order_body(bob, amount="0.01"))

    # Then the same terms answer the live order; other terms are a conflict naming it
    assert same.status_code == 200 and same.json()["order_no"] == first["order_no"]
    assert other.status_code == 409
    assert other.json()["error"]["fields"] == {"business_order_no": "payment_exists", "order_no": first["order_no"]}
    assert PaymentOrder.objects.count() == 1


def test_a_closed_business_order_can_be_created_again(shop_client, alice, api_client_for):
    first = post(shop_client, MERCHANT_PAYMENTS, order_body(alice)).json()
    assert api_client_for(alice).post(f"/api/v1/payments/{first['order_no']}/close/").json()["status"] == "closed"

    second = post(shop_client, MERCHANT_PAYMENTS, order_body(alice, amount="12.00"))

    assert second.status_code == 201 and second.json()["order_no"] != first["order_no"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("amount", "0.00"),
        ("payer", "nobody"),
        ("payer", "shop"),  # the merchant's own service account
        ("expires_in_minutes", 0),
        ("expires_in_minutes", 24 * 60 + 1),
        ("notify_url", "ftp://shop.example/hook"),
        # Webhooks never go into the internal network (docs/WEBHOOKS.md, "The URL rule").
        ("notify_url", "http://127.0.0.1:8000/hook"),
        ("notify_url", "https://10.0.0.7/hook"),
        ("notify_url", "http://localhost/hook"),
        ("notify_url", "http://[::ffff:169.254.169.254]/latest/meta-data/"),
        ("notify_url", "https://user:secret@shop.example/hook"),
    ],
)
def test_bad_terms_are_a_validation_error_on_the_field_and_create_nothing(shop_client, alice, field, value):
    response = post(shop_client, MERCHANT_PAYMENTS, order_body(alice) | {field: value})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert field in response.json()["error"]["fields"]
    assert not PaymentOrder.objects.exists()


def test_a_user_who_is_no_merchant_gets_permission_denied_on_every_merchant_endpoint(api_client_for, alice, bob):
    client = api_client_for(alice)

    responses = [
        post(client, MERCHANT_PAYMENTS, order_body(bob)),
        client.get(f"{MERCHANT_PAYMENTS}PM20261207000000000123456/"),
        post(client, f"{MERCHANT_PAYMENTS}PM20261207000000000123456/refunds/", {"amount": "1.00"}),
    ]

    assert [r.status_code for r in responses] == [403, 403, 403]
    assert {r.json()["error"]["code"] for r in responses} == {"permission_denied"}
    assert not PaymentOrder.objects.exists()


def test_the_payer_pays_from_the_balance_at_the_merchants_amount_into_the_merchants_account(
    shop_client, alice, funded_account, api_client_for
):
    # Given a 30.00 order of the shop awaiting alice, who has 100.00
    funded_account(alice, "100.00")
    order_no = post(shop_client, MERCHANT_PAYMENTS, order_body(alice)).json()["order_no"]
    client = api_client_for(alice)

    # When she pays it from her balance, twice (a retry)
    paid = post(client, f"/api/v1/payments/{order_no}/pay/", {"method": "balance", "client_type": "app"})
    again = post(client, f"/api/v1/payments/{order_no}/pay/", {"method": "balance", "client_type": "app"})

    # Then 30.00 moved once from her wallet to merchant:shop, and her view names the merchant
    assert paid.status_code == 201, paid.json()
    assert (paid.json()["status"], paid.json()["amount"]) == ("success", "30.00")
    assert paid.json()["merchant"] == {"code": "shop", "name": "shop Ltd"}
    assert again.status_code == 200 and again.json()["status"] == "success"
    assert Account.objects.get(owner=alice).balance == D("70.00")
    merchant = Account.objects.get(code="merchant:shop")
    assert merchant.is_hot and account_balance(account=merchant) == D("30.00")
    assert shop_client.get(f"{MERCHANT_PAYMENTS}{order_no}/").json()["status"] == "success"
    assert ledger_audit() == [] and internal_differences() == []


@pytest.mark.parametrize("field", ["amount", "subject", "merchant", "business_order_no"])
def test_the_payer_cannot_send_the_amount_or_any_term_of_the_merchant(
    shop_client, alice, funded_account, api_client_for, field
):
    # Given a 30.00 order awaiting alice, who has plenty
    funded_account(alice, "100.00")
    order_no = post(shop_client, MERCHANT_PAYMENTS, order_body(alice)).json()["order_no"]

    # When she pays it naming a term of her own (0.01, another subject, ...)
    response = post(
        api_client_for(alice),
        f"/api/v1/payments/{order_no}/pay/",
        {"method": "balance", "client_type": "app", field: "0.01"},
    )

    # Then it is refused on that field and nothing moved
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert list(response.json()["error"]["fields"]) == [field]
    assert PaymentOrder.objects.get(order_no=order_no).status == PaymentOrder.Status.AWAITING
    assert Account.objects.get(owner=alice).balance == D("100.00")


def test_nobody_but_the_payer_can_pay_or_read_an_order_made_for_them(
    shop_client, alice, bob, funded_account, api_client_for
):
    funded_account(bob, "100.00")
    order_no = post(shop_client, MERCHANT_PAYMENTS, order_body(alice)).json()["order_no"]
    client = api_client_for(bob)

    paid = post(client, f"/api/v1/payments/{order_no}/pay/", {"method": "balance", "client_type": "app"})
    read = client.get(f"/api/v1/payments/{order_no}/")

    assert (paid.status_code, read.status_code) == (404, 404)
    assert Account.objects.get(owner=bob).balance == D("100.00")
    assert PaymentOrder.objects.get(order_no=order_no).status == PaymentOrder.Status.AWAITING


def test_a_payer_can_no_longer_create_an_order_payment_with_an_amount_of_their_choosing(
    api_client_for, alice, funded_account
):
    funded_account(alice, "100.00")
    body = {"amount": "0.01", "method": "balance", "client_type": "app", "subject": "x", "business_order_no": "SO-1"}

    response = post(api_client_for(alice), "/api/v1/payments/", body)

    assert response.status_code in (404, 405)
    assert not PaymentOrder.objects.filter(business_type="order_payment").exists()
    assert Account.objects.get(owner=alice).balance == D("100.00")


def test_a_payer_short_of_money_keeps_the_order_awaiting(shop_client, alice, funded_account, api_client_for):
    funded_account(alice, "10.00")
    order_no = post(shop_client, MERCHANT_PAYMENTS, order_body(alice)).json()["order_no"]

    response = post(
        api_client_for(alice), f"/api/v1/payments/{order_no}/pay/", {"method": "balance", "client_type": "app"}
    )

    assert response.status_code == 422 and response.json()["error"]["code"] == "insufficient_funds"
    order = PaymentOrder.objects.get(order_no=order_no)
    assert (order.status, order.method) == (PaymentOrder.Status.AWAITING, "")


def test_one_merchant_can_never_read_refund_or_learn_of_anothers_orders(
    shop_client, alice, funded_account, api_client_for
):
    # Given a paid order of the shop, and another merchant
    funded_account(alice, "100.00")
    order_no = post(shop_client, MERCHANT_PAYMENTS, order_body(alice)).json()["order_no"]
    post(api_client_for(alice), f"/api/v1/payments/{order_no}/pay/", {"method": "balance", "client_type": "app"})
    refund_no = post(shop_client, f"{MERCHANT_PAYMENTS}{order_no}/refunds/", {"amount": "5.00"}).json()["refund_no"]
    other = api_client_for(merchant_new("bazaar").service_user)

    # When the other merchant reads, refunds, or reads the refund of the shop's order
    responses = [
        other.get(f"{MERCHANT_PAYMENTS}{order_no}/"),
        post(other, f"{MERCHANT_PAYMENTS}{order_no}/refunds/", {"amount": "1.00"}),
        other.get(f"{MERCHANT_PAYMENTS}{order_no}/refunds/{refund_no}/"),
        # and creates the same business order number: its own, which tells nothing of the shop's
        post(other, MERCHANT_PAYMENTS, order_body(alice, amount="1.00")),
    ]

    # Then the shop's order does not exist for it
    assert [r.status_code for r in responses[:3]] == [404, 404, 404]
    assert responses[3].status_code == 201 and responses[3].json()["order_no"] != order_no
    assert Refund.objects.count() == 1


def test_the_merchant_refunds_a_balance_payment_through_escrow_and_reads_it_with_the_order(
    shop_client, alice, funded_account, api_client_for
):
    # Given a paid 30.00 balance payment
    funded_account(alice, "100.00")
    order_no = post(shop_client, MERCHANT_PAYMENTS, order_body(alice)).json()["order_no"]
    post(api_client_for(alice), f"/api/v1/payments/{order_no}/pay/", {"method": "balance", "client_type": "app"})

    # When the shop refunds 10.00, then asks for 20.01 more
    refund = post(shop_client, f"{MERCHANT_PAYMENTS}{order_no}/refunds/", {"amount": "10.00", "reason": "cold"})
    over = post(shop_client, f"{MERCHANT_PAYMENTS}{order_no}/refunds/", {"amount": "20.01"})

    # Then the first is back in alice's wallet at once, escrow holds nothing, and the cap holds
    assert refund.status_code == 201 and refund.json()["status"] == "success"
    assert over.status_code == 422 and over.json()["error"]["fields"]["refundable"] == "20.00"
    assert Account.objects.get(owner=alice).balance == D("80.00")
    assert account_balance(account=Account.objects.get(code="merchant:shop")) == D("20.00")
    assert Account.objects.get(code="escrow:refunds").balance == D("0.00")
    detail = shop_client.get(f"{MERCHANT_PAYMENTS}{order_no}/").json()
    assert (detail["refunded_amount"], [r["amount"] for r in detail["refunds"]]) == ("10.00", ["10.00"])
    refund_no = refund.json()["refund_no"]
    assert shop_client.get(f"{MERCHANT_PAYMENTS}{order_no}/refunds/{refund_no}/").json()["status"] == "success"
    # And the payer reads it too, the merchant's old route is gone
    assert api_client_for(alice).get(f"/api/v1/refunds/{refund_no}/").json()["status"] == "success"
    assert post(shop_client, f"/api/v1/payments/{order_no}/refunds/", {"amount": "1.00"}).status_code in (404, 405)
    assert ledger_audit() == [] and internal_differences() == []


def test_the_payer_cannot_refund_their_own_payment(shop_client, alice, funded_account, api_client_for):
    funded_account(alice, "100.00")
    order_no = post(shop_client, MERCHANT_PAYMENTS, order_body(alice)).json()["order_no"]
    client = api_client_for(alice)
    post(client, f"/api/v1/payments/{order_no}/pay/", {"method": "balance", "client_type": "app"})

    response = post(client, f"{MERCHANT_PAYMENTS}{order_no}/refunds/", {"amount": "30.00"})

    assert response.status_code == 403
    assert not Refund.objects.exists()
