"""Merchants in the admin: a finance supervisor creates one with its service user and rotates its
secret, each new secret shown once; everyone else with payments access only views."""

from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from payments.merchants.models import Merchant
from payments.merchants.tests.factories import merchant_of, order_payment
from payments.orders.models import PaymentOrder
from reconciliation.tests.internal_support import recharged

pytestmark = pytest.mark.django_db

D = Decimal


def url(action: str, *args) -> str:
    return reverse(f"admin:payments_merchant_{action}", args=args)


def secrets_in(response) -> list[str]:
    """The whsec_ secrets the response's messages show."""
    shown = [str(message) for message in get_messages(response.wsgi_request)]
    return [word.rstrip(".") for text in shown for word in text.split() if word.startswith("whsec_")]


def test_a_supervisor_creates_a_merchant_and_sees_its_secret_once(staff_in, client_for, make_user):
    client = client_for(staff_in("finance_supervisor"))
    service = make_user("tea-house-server")

    created = client.post(
        url("add"),
        {"code": "tea-house", "name": "Tea House", "service_user": service.pk, "notify_url": "https://tea.example/h"},
        follow=True,
    )

    # Then the merchant exists with its own hot account, and the secret was shown in that answer only
    merchant = Merchant.objects.get(code="tea-house")
    assert (merchant.service_user, merchant.account.code, merchant.account.is_hot) == (
        service,
        "merchant:tea-house",
        True,
    )
    shown = secrets_in(created)
    assert shown == merchant.signing_secrets()
    page = client.get(url("change", merchant.pk)).content.decode()
    assert shown[0] not in page and merchant.webhook_secret_sealed not in page
    assert "merchant:tea-house" in page and "0.00 CNY" in page


def test_rotating_shows_the_new_secret_once_and_the_old_one_still_signs_for_the_overlap(staff_in, client_for):
    shop = merchant_of("shop")
    old = shop.signing_secrets()
    client = client_for(staff_in("finance_supervisor"))

    rotated = client.post(url("changelist"), {"action": "rotate_secret", "_selected_action": [shop.pk]}, follow=True)

    shop.refresh_from_db()
    assert secrets_in(rotated) == [shop.signing_secrets()[0]]
    assert shop.signing_secrets() == [secrets_in(rotated)[0], *old]
    assert secrets_in(client.get(url("changelist"))) == []


@pytest.mark.parametrize("role", ["auditor", "operations", "finance_reviewer"])
def test_other_roles_view_merchants_but_cannot_create_or_rotate(staff_in, client_for, make_user, role):
    shop = merchant_of("shop")
    before = shop.webhook_secret_sealed
    client = client_for(staff_in(role))

    assert client.get(url("changelist")).status_code == 200
    assert client.get(url("add")).status_code == 403
    client.post(url("changelist"), {"action": "rotate_secret", "_selected_action": [shop.pk]})

    shop.refresh_from_db()
    assert shop.webhook_secret_sealed == before


def test_the_merchants_page_shows_its_balance_and_links_its_payments(staff_in, client_for, alice):
    recharged(alice, "100.00")
    order = order_payment(alice, "30.00")
    client = client_for(staff_in("auditor"))

    page = client.get(url("change", merchant_of("shop").pk)).content.decode()
    listed = client.get(
        reverse("admin:payments_paymentorder_changelist")
        + f"?merchant_account__id__exact={merchant_of('shop').account_id}"
    ).content.decode()

    assert "30.00 CNY" in page and "1 order payments" in page
    assert order.order_no in listed
    assert PaymentOrder.objects.filter(merchant_account=merchant_of("shop").account).count() == 1


@pytest.mark.parametrize("notify_url", ["http://127.0.0.1:9000/hook", "https://192.168.1.20/h", "http://localhost/h"])
def test_a_notify_url_into_the_internal_network_is_refused_on_create_and_on_change(
    staff_in, client_for, make_user, notify_url
):
    client = client_for(staff_in("finance_supervisor"))
    service = make_user("tea-house-server")

    # When a supervisor names an internal address for a new merchant's webhooks
    refused = client.post(
        url("add"), {"code": "tea-house", "name": "Tea House", "service_user": service.pk, "notify_url": notify_url}
    )

    # Then the form says so and no merchant is made
    assert refused.status_code == 200
    assert "Webhooks cannot be sent to this URL" in refused.content.decode()
    assert not Merchant.objects.filter(code="tea-house").exists()

    # And an existing merchant cannot be pointed there either
    client.post(url("add"), {"code": "tea-house", "name": "Tea House", "service_user": service.pk})
    merchant = Merchant.objects.get(code="tea-house")
    changed = client.post(
        url("change", merchant.pk), {"name": "Tea House", "notify_url": notify_url, "is_active": "on"}
    )
    assert "Webhooks cannot be sent to this URL" in changed.content.decode()
    merchant.refresh_from_db()
    assert merchant.notify_url == ""
