"""Payments end to end through the sandbox over real HTTP: the API opens orders at the sandbox,
the payer pays at the sandbox's cashier, the sandbox's signed notifies come back to our notify
URL on the live server, and the ledger moves once. Notifies the sandbox would send by Celery are
sent here by calling its task function, which POSTs them over HTTP like the worker would."""

from collections import Counter
from datetime import timedelta
from decimal import Decimal
from itertools import count
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from django.utils import timezone
from django_fsm_log.models import StateLog

from config.tests.metrics import metric
from payments.channels import registry
from payments.channels.models import Channel
from payments.merchants.tests.factories import order_payment
from payments.orders import refunds, selectors
from payments.orders import services as payment_orders
from payments.orders.models import PaymentEvent, PaymentOrder, Refund
from payments.sandbox import payment_engine
from payments.sandbox import tasks as sandbox_tasks
from payments.sandbox.keys import keys_for
from payments.sandbox.models import SandboxPayment, SandboxRefund
from payments.sandbox.protocols import protocol_module
from payments.tests.worker import wait_until
from reconciliation.internal import internal_differences
from wallet.audit import ledger_audit
from wallet.models import Account
from wallet.selectors import account_balance
from wallet.tests.threads import run_in_threads

pytestmark = pytest.mark.django_db(transaction=True)

D = Decimal
_keys = count(1)
PROTOCOLS = {"wechat_pay": "wechat_v3", "wechat_v2_pay": "wechat_v2", "alipay": "alipay"}


def post(client, url: str, body: dict):
    return client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=f"key-{next(_keys)}")


def merchant_order(shop, payer, amount: str, *, business_order_no: str) -> str:
    """The shop's server creates the payment of its order for ``payer``; answers its number."""
    body = {"business_order_no": business_order_no, "amount": amount, "subject": "Tea", "payer": payer.username}
    response = post(shop, "/api/v1/merchant/payments/", body)
    assert response.status_code == 201, response.json()
    return response.json()["order_no"]


def merchant_balance() -> Decimal:
    """The shop's account is hot: its balance is the sum of its entries."""
    return account_balance(account=Account.objects.get(code="merchant:shop"))


def wallet_of(user) -> Account:
    return Account.objects.get(owner=user)


def sandbox_payment(order_no: str) -> SandboxPayment:
    return SandboxPayment.objects.get(order_no=order_no)


def deliver_notifies(payment: SandboxPayment, variant: str = "genuine") -> None:
    """What the sandbox's Celery worker would do: pay if not yet paid, then POST the notify."""
    sandbox_tasks.sandbox_payment_notify.apply(args=[payment.pk, variant])


def notify_of(order_no: str, *, amount: Decimal | None = None, forged: bool = False, **secrets_override):
    """The sandbox's success notify of a paid order, as (url, headers, body)."""
    payment = payment_engine.payment_pay(payment_id=sandbox_payment(order_no).pk)
    secrets = keys_for(payment.protocol) | secrets_override
    headers, body = protocol_module(payment.protocol).payment_notify_build(
        payment, secrets, amount=payment.amount if amount is None else amount, forged=forged
    )
    return payment.notify_url, headers, body


@pytest.fixture
def use_channel():
    """Route WeChat methods to ``code`` (the v3 row, or the legacy v2 row)."""

    def use(code: str) -> None:
        Channel.objects.filter(code__in=["wechat_pay", "wechat_v2_pay"]).update(enabled=False)
        Channel.objects.filter(code=code).update(enabled=True)

    return use


@pytest.fixture
def never_pay():
    """The payers at every sandbox protocol do not pay on their own."""
    for protocol in PROTOCOLS.values():
        payment_engine.payment_rule_add(protocol=protocol, scenario="never_pay")


@pytest.mark.parametrize(
    ("channel", "method", "client_type"),
    [
        ("wechat_pay", "wechat_native", "web"),
        ("wechat_v2_pay", "wechat_native", "web"),
        ("alipay", "alipay_page", "web"),
    ],
)
def test_a_recharge_by_each_channel_family_is_credited_once_when_the_payer_pays(
    sandbox_live, never_pay, use_channel, alice, api_client_for, channel, method, client_type
):
    # Given the channel family's sandbox and a user with an empty wallet
    if channel != "alipay":
        use_channel(channel)
    client = api_client_for(alice)

    # When she recharges 88.80
    created = post(client, "/api/v1/recharges/", {"amount": "88.80", "method": method, "client_type": client_type})

    # Then the order is paying at the routed channel, with what the payer needs
    assert created.status_code == 201, created.json()
    order = created.json()
    assert (order["status"], order["channel"], order["amount"]) == ("paying", channel, "88.80")
    pay_url = order["pay"].get("code_url") or order["pay"]["pay_url"]
    if method == "wechat_native":
        assert order["pay"]["qr_code_svg"].startswith("data:image/svg+xml")
        assert order["pay"]["qr_code_png"].startswith("data:image/png")
    # And the payer opens the channel's page (for Alipay this is when the channel learns of it)
    cashier = requests.get(pay_url, timeout=10)
    assert cashier.status_code == 200 and "88.80" in cashier.text
    # And pays there; the channel's notify comes back to our notify URL
    requests.post(urlsplit(cashier.url)._replace(query="").geturl(), timeout=10)
    deliver_notifies(sandbox_payment(order["order_no"]))

    # Then the order is success and the wallet was credited from the channel's clearing account once
    detail = client.get(f"/api/v1/recharges/{order['order_no']}/").json()
    assert detail["status"] == "success"
    assert wallet_of(alice).balance == D("88.80")
    assert account_balance(account=Account.objects.get(code=f"clearing:{channel}")) == D("-88.80")
    events = PaymentEvent.objects.filter(payment_order__order_no=order["order_no"])
    assert {(event.operation, event.kind, event.outcome) for event in events} >= {
        ("notify", "notify", "applied"),
    }
    assert ledger_audit() == []


def test_a_channel_order_payment_goes_to_the_merchant_and_is_refunded_in_part_then_in_full(
    sandbox_live, alice, refunder, api_client_for
):
    # Given a 100.00 order of the shop, paid by alice by WeChat native (the sandbox's payer pays at once)
    client, shop = api_client_for(alice), api_client_for(refunder)
    order_no = merchant_order(shop, alice, "100.00", business_order_no="BO-42")
    paying = post(client, f"/api/v1/payments/{order_no}/pay/", {"method": "wechat_native", "client_type": "web"})
    assert (paying.status_code, paying.json()["status"], paying.json()["channel"]) == (201, "paying", "wechat_pay")
    deliver_notifies(sandbox_payment(order_no))
    assert client.get(f"/api/v1/payments/{order_no}/").json()["status"] == "success"
    assert merchant_balance() == D("100.00")

    # When 30.00 and then the remaining 70.00 are refunded to the original channel
    refunds_url = f"/api/v1/merchant/payments/{order_no}/refunds/"
    first = post(shop, refunds_url, {"amount": "30.00", "reason": "partly"}).json()
    assert first["status"] == "pending"
    assert Account.objects.get(code="escrow:refunds").balance == D("30.00")
    refunds.refund_send(refund_id=Refund.objects.get(refund_no=first["refund_no"]).pk)
    second = post(shop, refunds_url, {"amount": "70.00"}).json()
    refunds.refund_send(refund_id=Refund.objects.get(refund_no=second["refund_no"]).pk)
    over = post(shop, refunds_url, {"amount": "0.01"})

    # Then both succeeded at the sandbox and in the ledger, and nothing more is refundable
    assert client.get(f"/api/v1/refunds/{first['refund_no']}/").json()["status"] == "success"
    assert shop.get(f"{refunds_url}{second['refund_no']}/").json()["status"] == "success"
    assert sorted(SandboxRefund.objects.values_list("amount", "state")) == [
        (D("30.00"), "success"),
        (D("70.00"), "success"),
    ]
    assert over.status_code == 422 and over.json()["error"]["code"] == "limit_exceeded"
    assert merchant_balance() == D("0.00")
    assert Account.objects.get(code="escrow:refunds").balance == D("0.00")
    assert account_balance(account=Account.objects.get(code="clearing:wechat_pay")) == D("0.00")
    assert client.get(f"/api/v1/payments/{order_no}/").json()["refunded_amount"] == "100.00"
    # And the order's totals rebuilt from its events alone agree
    order = PaymentOrder.objects.get(order_no=order_no)
    assert selectors.payment_totals(order=order) == selectors.PaymentTotals(paid=D("100.00"), refunded=D("100.00"))
    assert ledger_audit() == [] and internal_differences() == []


@pytest.mark.parametrize(
    ("channel", "method"),
    [("wechat_pay", "wechat_h5"), ("wechat_v2_pay", "wechat_native"), ("alipay", "alipay_wap")],
)
def test_each_channel_family_refunds_an_order_payment_in_part_then_in_full(
    sandbox_live, never_pay, use_channel, alice, refunder, api_client_for, channel, method
):
    # Given a 50.00 order of the shop paid by alice through the channel family
    if channel != "alipay":
        use_channel(channel)
    client, shop = api_client_for(alice), api_client_for(refunder)
    order_no = merchant_order(shop, alice, "50.00", business_order_no=f"BO-{channel}")
    order = post(client, f"/api/v1/payments/{order_no}/pay/", {"method": method, "client_type": "mobile_web"}).json()
    assert (order["status"], order["channel"]) == ("paying", channel)
    pay = order["pay"]
    requests.get(pay.get("pay_url") or pay["code_url"], timeout=10)  # the payer opens the cashier page
    deliver_notifies(sandbox_payment(order["order_no"]))
    assert client.get(f"/api/v1/payments/{order['order_no']}/").json()["status"] == "success"

    # When the merchant refunds 20.00 and then 30.00, each sent to the channel and finished by its
    # answer, its notify or a query
    for amount in ("20.00", "30.00"):
        refund_no = post(shop, f"/api/v1/merchant/payments/{order_no}/refunds/", {"amount": amount}).json()["refund_no"]
        refund = Refund.objects.get(refund_no=refund_no)
        refunds.refund_send(refund_id=refund.pk)
        refunds.refund_sync(refund=Refund.objects.get(pk=refund.pk))
        assert client.get(f"/api/v1/refunds/{refund_no}/").json()["status"] == "success"

    # Then the sandbox refunded 50.00, the merchant paid it back to the clearing account, and the
    # order's events add up
    assert sum(SandboxRefund.objects.values_list("amount", flat=True)) == D("50.00")
    assert merchant_balance() == D("0.00")
    assert account_balance(account=Account.objects.get(code=f"clearing:{channel}")) == D("0.00")
    paid = PaymentOrder.objects.get(order_no=order["order_no"])
    assert selectors.payment_totals(order=paid) == selectors.PaymentTotals(paid=D("50.00"), refunded=D("50.00"))
    assert ledger_audit() == []


def test_a_refund_the_channel_fails_gives_the_escrow_back_to_the_merchant(sandbox_live, alice, refunder):
    order = _paid_order_payment(alice, "40.00")
    payment_engine.payment_rule_add(protocol="wechat_v3", scenario="refund_fail")

    refund = refunds.refund_request(order=order, actor=refunder, amount=D("40.00"), idempotency_key="r").refund
    refunds.refund_send(refund_id=refund.pk)
    sandbox_refund = SandboxRefund.objects.get(refund_no=refund.refund_no)
    sandbox_tasks.sandbox_refund_notify.apply(args=[sandbox_refund.pk, "failed"])

    refund.refresh_from_db()
    assert refund.status == Refund.Status.FAILED
    assert merchant_balance() == D("40.00")
    assert Account.objects.get(code="escrow:refunds").balance == D("0.00")
    assert internal_differences() == []
    # And the whole amount can be refunded again
    again = refunds.refund_request(order=order, actor=refunder, amount=D("40.00"), idempotency_key="r2").refund
    assert again.status == Refund.Status.PENDING
    assert ledger_audit() == []


def test_a_processing_refund_is_finished_by_the_channels_notify(sandbox_live, alice, refunder):
    order = _paid_order_payment(alice, "25.00")
    payment_engine.payment_rule_add(protocol="wechat_v3", scenario="refund_process")

    refund = refunds.refund_request(order=order, actor=refunder, amount=D("25.00"), idempotency_key="r").refund
    refunds.refund_send(refund_id=refund.pk)
    refund.refresh_from_db()
    assert refund.status == Refund.Status.PROCESSING
    sandbox_refund = SandboxRefund.objects.get(refund_no=refund.refund_no)
    sandbox_tasks.sandbox_refund_notify.apply(args=[sandbox_refund.pk, "success"])

    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCESS
    assert merchant_balance() == D("0.00")
    assert ledger_audit() == []


def test_ten_concurrent_copies_of_one_success_notify_credit_once(sandbox_live, never_pay, alice):
    order = _open_recharge(alice, "66.60")
    url, headers, body = notify_of(order.order_no)

    def send(_: int) -> str:
        return str(requests.post(url, data=body, headers=headers, timeout=30).status_code)

    outcomes = run_in_threads(10, send)

    assert outcomes == Counter({"200": 10})
    order.refresh_from_db()
    assert order.status == PaymentOrder.Status.SUCCESS
    assert wallet_of(alice).balance == D("66.60")
    outcomes = Counter(order.events.filter(kind="notify").values_list("outcome", flat=True))
    assert outcomes == Counter({"applied": 1, "duplicate": 9})
    assert ledger_audit() == []


FAMILIES = [
    # (channel, method, client type, the secret naming the app in the sandbox's keys)
    ("wechat_pay", "wechat_native", "web", "appid"),
    ("wechat_v2_pay", "wechat_native", "web", "appid"),
    ("alipay", "alipay_page", "web", "app_id"),
]


@pytest.mark.parametrize(("channel", "method", "client_type", "app_key"), FAMILIES)
@pytest.mark.parametrize("forgery", ["bad_signature", "wrong_amount", "other_app"])
def test_a_forged_or_contradicting_notify_credits_nothing_is_stored_and_gets_the_failure_reply(
    sandbox_live, never_pay, use_channel, alice, channel, method, client_type, app_key, forgery
):
    # Given an open 66.60 recharge at the channel family, paid at the channel
    if channel != "alipay":
        use_channel(channel)
    order = _open_recharge(alice, "66.60", method=method, client_type=client_type)
    if channel == "alipay":
        requests.get(order.pay_params["pay_url"], timeout=10)  # Alipay learns of it when the payer opens it
    forgeries: dict[str, dict[str, Any]] = {
        "bad_signature": {"forged": True},
        "wrong_amount": {"amount": D("66.61")},
        "other_app": {app_key: "2021000000000099" if channel == "alipay" else "wx00000000000000ff"},
    }
    notify = forgeries[forgery]
    url, headers, body = notify_of(order.order_no, **notify)
    refused_before = metric("wallet_notify_refused_total", channel=channel)

    # When the notify arrives
    response = requests.post(url, data=body, headers=headers, timeout=30)

    # Then the channel gets its protocol's failure reply (with 400 when the notify is not the
    # channel's own: nothing on our side failed), nothing is credited, and it is on record
    failure = registry.adapter_for(Channel.objects.get(code=channel)).notify_reply(accepted=False)
    status = failure.status if forgery == "wrong_amount" else 400
    assert (response.status_code, response.content) == (status, failure.body)
    order.refresh_from_db()
    assert order.status == PaymentOrder.Status.PAYING
    assert not Account.objects.filter(owner=alice).exclude(balance=0).exists()
    refused = PaymentEvent.objects.get(kind="notify", outcome="refused")
    expected = {"bad_signature": "not genuine", "wrong_amount": "amount", "other_app": "app"}[forgery]
    assert expected in refused.message.lower()
    assert metric("wallet_notify_refused_total", channel=channel) == refused_before + 1


def test_a_notify_for_an_order_we_do_not_know_credits_nothing_and_is_stored(sandbox_live, alice):
    payment = payment_engine.payment_receive(
        protocol="wechat_v3",
        order_no="RC20990101000000000999999",
        amount=D("5.00"),
        subject="not ours",
        method="wechat_native",
        notify_url=f"{sandbox_live.url}/api/v1/notify/wechat_pay/",
    ).payment
    headers, body = protocol_module("wechat_v3").payment_notify_build(
        payment, keys_for("wechat_v3"), amount=payment.amount, forged=False
    )

    response = requests.post(payment.notify_url, data=body, headers=headers, timeout=30)

    assert response.status_code == 500
    event = PaymentEvent.objects.get(reference="RC20990101000000000999999")
    assert (event.outcome, event.payment_order) == ("refused", None)
    assert not Account.objects.filter(kind=Account.Kind.USER).exists()


def test_a_notify_racing_the_expiry_sweep_credits_once(sandbox_live, never_pay, alice):
    # Given an expired order that the payer paid just in time, whose notify arrives as the sweep runs
    order = _open_recharge(alice, "15.00")
    PaymentOrder.objects.filter(pk=order.pk).update(expires_at=timezone.now() - timedelta(minutes=2))
    url, headers, body = notify_of(order.order_no)

    def work(i: int) -> str:
        if i == 0:
            return str(payment_orders.payment_orders_expire())
        return str(requests.post(url, data=body, headers=headers, timeout=30).status_code)

    run_in_threads(2, work)

    # Then it is success, credited once, whichever came first
    order.refresh_from_db()
    assert order.status == PaymentOrder.Status.SUCCESS
    assert wallet_of(alice).balance == D("15.00")
    assert order.events.filter(outcome="applied", amount__isnull=False).count() == 1
    assert ledger_audit() == []


def test_concurrent_channel_refunds_beyond_the_payment_are_reserved_only_as_far_as_they_fit(
    sandbox_live, alice, refunder
):
    order = _paid_order_payment(alice, "100.00")

    def refund(i: int) -> str:
        created = refunds.refund_request(order=order, actor=refunder, amount=D("40.00"), idempotency_key=f"r{i}")
        return created.refund.status

    outcomes = run_in_threads(6, refund)

    assert outcomes == Counter({"pending": 2, "limit_exceeded": 4})
    for pending in Refund.objects.filter(payment_order=order):
        refunds.refund_send(refund_id=pending.pk)
    assert sorted(Refund.objects.filter(payment_order=order).values_list("status", flat=True)) == ["success"] * 2
    assert merchant_balance() == D("20.00")
    assert Account.objects.get(code="escrow:refunds").balance == D("0.00")
    assert ledger_audit() == []


def test_the_payer_closes_an_open_order_and_pays_the_business_order_another_way(
    sandbox_live, never_pay, alice, refunder, funded_account, api_client_for
):
    # Given an order of the shop that alice opened at WeChat
    funded_account(alice, "100.00")
    client, shop = api_client_for(alice), api_client_for(refunder)
    order_no = merchant_order(shop, alice, "9.00", business_order_no="BO-close")
    post(client, f"/api/v1/payments/{order_no}/pay/", {"method": "wechat_native", "client_type": "web"})
    assert (
        post(client, f"/api/v1/payments/{order_no}/pay/", {"method": "balance", "client_type": "web"}).status_code
        == 409
    )

    # When the payer closes it
    closed = client.post(f"/api/v1/payments/{order_no}/close/")

    # Then it is closed here and at the channel, and the shop's new order for it can be paid from the balance
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert sandbox_payment(order_no).state == SandboxPayment.State.CLOSED
    again = merchant_order(shop, alice, "9.00", business_order_no="BO-close")
    paid = post(client, f"/api/v1/payments/{again}/pay/", {"method": "balance", "client_type": "web"})
    assert paid.json()["status"] == "success"
    assert client.post(f"/api/v1/payments/{order_no}/close/").status_code == 409
    closing = StateLog.objects.for_(PaymentOrder.objects.get(order_no=order_no)).get(transition="close")
    assert closing.by == alice


def test_closing_an_order_the_payer_already_paid_answers_success(sandbox_live, alice, api_client_for):
    payment_engine.payment_rule_add(protocol="wechat_v3", scenario="paid_without_notify")
    order = _open_recharge(alice, "7.00")

    closed = api_client_for(alice).post(f"/api/v1/recharges/{order.order_no}/close/")

    assert closed.status_code == 200 and closed.json()["status"] == "success"
    assert wallet_of(alice).balance == D("7.00")


def test_an_alipay_page_payment_nobody_opened_cannot_be_closed_before_it_expires(
    sandbox_live, never_pay, alice, api_client_for
):
    order = _open_recharge(alice, "7.00", method="alipay_page")

    closed = api_client_for(alice).post(f"/api/v1/recharges/{order.order_no}/close/")

    assert closed.status_code == 409 and "expires_at" in closed.json()["error"]["fields"]
    assert PaymentOrder.objects.get(pk=order.pk).status == PaymentOrder.Status.PAYING


def test_another_users_order_cannot_be_closed(sandbox_live, never_pay, alice, bob, api_client_for):
    order = _open_recharge(alice, "7.00")

    assert api_client_for(bob).post(f"/api/v1/recharges/{order.order_no}/close/").status_code == 404
    assert PaymentOrder.objects.get(pk=order.pk).status == PaymentOrder.Status.PAYING


def test_an_order_paid_at_the_channel_but_never_notified_becomes_success_at_expiry_not_closed(sandbox_live, alice):
    payment_engine.payment_rule_add(protocol="wechat_v3", scenario="paid_without_notify")
    order = _open_recharge(alice, "12.00")
    PaymentOrder.objects.filter(pk=order.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert payment_orders.payment_orders_expire() == 1
    assert payment_orders.payment_orders_expire() == 0

    order.refresh_from_db()
    assert order.status == PaymentOrder.Status.SUCCESS
    assert wallet_of(alice).balance == D("12.00")
    assert ledger_audit() == []


def test_an_expired_order_paid_late_at_the_channel_is_success_and_credited_once(sandbox_live, never_pay, alice):
    order = _open_recharge(alice, "12.00")
    PaymentOrder.objects.filter(pk=order.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    payment_engine.payment_pay(payment_id=sandbox_payment(order.order_no).pk)  # the payer was just in time

    payment_orders.payment_orders_expire()
    deliver_notifies(sandbox_payment(order.order_no))  # and the channel's notify arrives afterwards

    order.refresh_from_db()
    assert order.status == PaymentOrder.Status.SUCCESS
    assert wallet_of(alice).balance == D("12.00")
    assert ledger_audit() == []


def test_an_expired_unpaid_order_is_closed_here_and_at_the_channel(sandbox_live, never_pay, alice):
    order = _open_recharge(alice, "12.00")
    PaymentOrder.objects.filter(pk=order.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    payment_orders.payment_orders_expire()

    order.refresh_from_db()
    assert order.status == PaymentOrder.Status.CLOSED
    assert sandbox_payment(order.order_no).state == SandboxPayment.State.CLOSED
    # A payment attempt at the closed channel order pays nothing
    assert payment_engine.payment_pay(payment_id=sandbox_payment(order.order_no).pk).state == "closed"
    assert not Account.objects.filter(owner=alice).exclude(balance=0).exists()


def test_reading_an_open_order_asks_the_channel_so_a_missing_notify_does_not_matter(
    sandbox_live, alice, api_client_for
):
    payment_engine.payment_rule_add(protocol="wechat_v3", scenario="paid_without_notify")
    order = _open_recharge(alice, "9.99")

    client = api_client_for(alice)
    detail = client.get(f"/api/v1/recharges/{order.order_no}/").json()

    assert detail["status"] == "success"
    assert wallet_of(alice).balance == D("9.99")


def test_a_client_polling_an_open_order_in_a_loop_makes_one_channel_query_every_few_seconds(
    sandbox_live, never_pay, alice, api_client_for
):
    order = _open_recharge(alice, "9.99")
    client = api_client_for(alice)

    for _ in range(5):
        assert client.get(f"/api/v1/recharges/{order.order_no}/").json()["status"] == "paying"

    assert order.events.filter(operation="query", kind="request").count() == 1


def test_the_sandbox_notifies_by_celery_and_the_recharge_succeeds_without_help(
    celery_worker_process, alice, api_client_for
):
    worker = celery_worker_process.start()
    client = api_client_for(alice)
    body = {"amount": "20.00", "method": "wechat_app", "client_type": "app"}

    order = post(client, "/api/v1/recharges/", body).json()

    assert order["status"] == "paying" and order["pay"]["app_params"]
    wait_until(
        lambda: PaymentOrder.objects.get(order_no=order["order_no"]).status == "success",
        timeout=30,
        message="the sandbox's notify did not arrive",
    )
    assert wallet_of(alice).balance == D("20.00"), worker.output()
    assert ledger_audit() == []


def test_a_channel_that_cannot_be_reached_fails_the_order_and_answers_channel_unavailable(
    settings, alice, api_client_for
):
    # Given the sandbox on a port where nothing listens (the request never reaches a channel)
    settings.SANDBOX_BASE_URL = "http://127.0.0.1:9/sandbox"
    settings.CHANNEL_READ_TIMEOUT = 2.0

    response = post(
        api_client_for(alice), "/api/v1/recharges/", {"amount": "5.00", "method": "wechat_native", "client_type": "web"}
    )

    # Then the client is told to come back later, and the order can never be paid
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "channel_unavailable"
    order = PaymentOrder.objects.get(order_no=response.json()["error"]["fields"]["order_no"])
    assert order.status == PaymentOrder.Status.FAILED
    assert order.events.filter(operation="create", kind="answer").get().state == "not_taken"


def _open_recharge(user, amount: str, *, method: str = "wechat_native", client_type: str = "web") -> PaymentOrder:
    return payment_orders.payment_order_create(
        user=user,
        business_type="recharge",
        method=method,
        amount=D(amount),
        client_type=client_type,
        idempotency_key=f"open-{next(_keys)}",
    ).order


def _paid_order_payment(user, amount: str) -> PaymentOrder:
    """An order of the shop that ``user`` paid by WeChat native, found paid by a query."""
    order = order_payment(user, amount, method="wechat_native", client_type="web")
    return payment_orders.payment_order_sync(order=order)
