"""Payment orders, refunds and events in the admin: read-only, exported by auditors, re-queried
and closed by operations only, and the native QR code on the order's page."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from payments.channels.models import Channel
from payments.merchants.tests.factories import order_payment
from payments.orders import refunds
from payments.orders.models import PaymentOrder
from payments.orders.resources import PaymentEventResource, PaymentOrderResource, RefundResource
from payments.withdrawals.tests.test_admin import FORMATS, export_link, rows_of, url

pytestmark = pytest.mark.django_db

D = Decimal
CODE_URL = "weixin://wxpay/bizpayurl?pr=AbCdEfG"


@pytest.fixture
def superuser(make_user):
    return make_user("root", is_staff=True, is_superuser=True)


@pytest.fixture
def refunded(alice, funded_account, refunder) -> PaymentOrder:
    """alice paid 30.00 from her balance and got 10.00 back."""
    funded_account(alice, "100.00")
    order = order_payment(alice, "30.00", subject="=HYPERLINK(tea)", business_order_no="BO-7")
    refunds.refund_request(order=order, actor=refunder, amount=D("10.00"), reason="cold", idempotency_key="r")
    return order


@pytest.fixture
def paying_native(alice) -> PaymentOrder:
    return PaymentOrder.objects.create(
        order_no="RC20261128000000000000001",
        user=alice,
        business_type="recharge",
        method="wechat_native",
        channel=Channel.objects.get(code="wechat_pay"),
        client_type="web",
        subject="钱包充值",
        amount=D("10.00"),
        idempotency_key="k",
        request_fingerprint="f",
        expires_at=timezone.now() + timedelta(minutes=30),
        status="paying",
        pay_params={"code_url": CODE_URL},
    )


def export(client, export_url: str, resource, file_format: str):
    data = {"format": FORMATS[file_format], "resource": "0"}
    data |= {f"{resource.__name__.lower()}_{name}": "on" for name in resource().get_export_order()}
    return client.post(export_url, data)


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_an_auditor_exports_payment_orders_refunds_and_events(refunded, staff_in, client_for, file_format):
    client = client_for(staff_in("auditor"))

    _, orders = rows_of(
        export(client, export_link(client, "paymentorder"), PaymentOrderResource, file_format), file_format
    )
    _, refund_rows = rows_of(export(client, export_link(client, "refund"), RefundResource, file_format), file_format)
    _, events = rows_of(
        export(client, export_link(client, "paymentevent"), PaymentEventResource, file_format), file_format
    )

    assert [(row["order_no"], row["amount"], row["refunded_amount"], row["status"]) for row in orders] == [
        (refunded.order_no, "30.00", "10.00", "success")
    ]
    assert orders[0]["subject"] == "'=HYPERLINK(tea)"  # a formula stays text
    assert [(row["order_no"], row["amount"], row["status"], row["reason"]) for row in refund_rows] == [
        (refunded.order_no, "10.00", "success", "cold")
    ]
    assert sorted((row["operation"], row["outcome"], row["amount"]) for row in events) == [
        ("balance_debit", "applied", "30.00"),
        ("refund", "applied", "10.00"),
    ]


def test_payment_orders_refunds_and_events_are_read_only_for_everyone(refunded, superuser, client_for):
    client = client_for(superuser)
    refund = refunded.refunds.get()

    assert client.get(url("paymentorder", "add")).status_code == 403
    assert client.get(url("refund", "add")).status_code == 403
    assert client.get(url("paymentevent", "add")).status_code == 403
    page = client.get(url("paymentorder", "change", refunded.pk))
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert client.post(url("paymentorder", "delete", refunded.pk), {"post": "yes"}).status_code == 403
    assert client.post(url("refund", "delete", refund.pk), {"post": "yes"}).status_code == 403
    assert PaymentOrder.objects.filter(pk=refunded.pk, amount=D("30.00")).exists()


def test_the_transition_logs_name_the_order_and_the_refund(refunded, staff_in, client_for):
    client = client_for(staff_in("auditor"))
    refund = refunded.refunds.get()

    orders = client.get(url("paymenttransition", "changelist"))
    refund_log = client.get(url("refundtransition", "changelist"))

    assert orders.status_code == 200 and refunded.order_no in orders.content.decode()
    assert refund_log.status_code == 200 and refund.refund_no in refund_log.content.decode()


def test_the_page_of_a_paying_native_order_shows_its_qr_code(paying_native, staff_in, client_for):
    page = client_for(staff_in("operations")).get(url("paymentorder", "change", paying_native.pk))

    assert page.status_code == 200
    assert b'<img src="data:image/svg+xml' in page.content
    assert CODE_URL.encode() in page.content


def test_only_operations_are_offered_re_query_and_close(paying_native, staff_in, client_for):
    operations = client_for(staff_in("operations")).get(url("paymentorder", "changelist")).content.decode()
    auditor = client_for(staff_in("auditor")).get(url("paymentorder", "changelist")).content.decode()

    assert "close_selected" in operations and "sync_selected" in operations
    assert "close_selected" not in auditor and "sync_selected" not in auditor


def test_an_auditor_posting_the_close_action_changes_nothing(paying_native, staff_in, client_for):
    client = client_for(staff_in("auditor"))

    client.post(url("paymentorder", "changelist"), {"action": "close_selected", "_selected_action": [paying_native.pk]})

    paying_native.refresh_from_db()
    assert paying_native.status == "paying"
