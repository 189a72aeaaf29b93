"""Order payments from the wallet balance, and their refunds back to it, on the real database."""

from collections import Counter
from decimal import Decimal

import pytest
from django.utils import timezone
from django_fsm_log.models import StateLog

from payments.channels.models import Channel
from payments.merchants import services as merchants
from payments.merchants.tests.factories import merchant_new, merchant_of
from payments.orders import refunds, selectors
from payments.orders import services as payment_orders
from payments.orders.models import PaymentEvent, PaymentOrder, Refund
from wallet import errors
from wallet import services as ledger
from wallet.audit import ledger_audit
from wallet.models import Account
from wallet.selectors import account_balance
from wallet.tests.threads import run_in_threads

D = Decimal


def create(user, amount: str | Decimal, *, key: str = "k1", business_order_no: str = "BO-1", **extra):
    """The shop creates the payment of its order for ``user``."""
    terms = {
        "merchant": merchant_of("shop"),
        "payer": user.username,
        "amount": D(amount),
        "idempotency_key": key,
        "subject": "A cup of tea",
        "business_order_no": business_order_no,
    }
    return merchants.merchant_payment_create(**(terms | extra))


def pay(user, amount: str | Decimal, *, key: str = "k1", business_order_no: str = "BO-1", **means) -> PaymentOrder:
    """The shop's order for ``user``, paid by ``user`` from the balance (or ``means``)."""
    order = create(user, amount, key=key, business_order_no=business_order_no).order
    terms = {"method": "balance", "client_type": "app"} | means
    return payment_orders.payment_order_pay(order=order, payer=user, **terms).order


def merchant() -> Decimal:
    return account_balance(account=Account.objects.get(code="merchant:shop"))


@pytest.mark.django_db
def test_a_balance_payment_moves_the_amount_from_the_wallet_to_the_merchant_at_once(alice, funded_account):
    # Given alice with 100.00
    funded_account(alice, "100.00")

    # When she pays 30.00 from her balance
    order = pay(alice, "30.00")

    # Then the order succeeded, the money moved once, and each step is logged
    assert order.status == PaymentOrder.Status.SUCCESS
    assert order.channel is None and order.paid_at is not None
    assert Account.objects.get(owner=alice).balance == D("70.00")
    assert merchant() == D("30.00")
    transitions = StateLog.objects.for_(order).order_by("id").values_list("transition", "state")
    assert list(transitions) == [("create", "awaiting"), ("choose", "pending"), ("succeed", "success")]
    assert selectors.payment_totals(order=order) == selectors.PaymentTotals(paid=D("30.00"), refunded=D("0"))
    assert ledger_audit() == []


@pytest.mark.django_db
def test_a_balance_payment_the_wallet_cannot_cover_is_refused_and_the_order_still_awaits(alice, funded_account):
    funded_account(alice, "10.00")

    with pytest.raises(errors.InsufficientFunds):
        pay(alice, "10.01")

    order = PaymentOrder.objects.get()
    assert (order.status, order.method) == (PaymentOrder.Status.AWAITING, "")
    assert Account.objects.get(owner=alice).balance == D("10.00")
    assert merchant() == D("0.00")


@pytest.mark.django_db
def test_a_frozen_wallet_cannot_pay(alice, funded_account):
    account = funded_account(alice, "10.00")
    ledger.account_set_status(account=account, status=Account.Status.FROZEN)

    with pytest.raises(errors.AccountFrozen):
        pay(alice, "1.00")

    assert PaymentOrder.objects.get().status == PaymentOrder.Status.AWAITING


@pytest.mark.django_db
def test_the_same_key_returns_the_first_payment_and_another_body_is_a_conflict(alice, funded_account):
    funded_account(alice, "100.00")
    first = pay(alice, "30.00")

    again = create(alice, "30.00")
    assert (again.order.pk, again.created, again.order.status) == (first.pk, False, "success")
    assert Account.objects.get(owner=alice).balance == D("70.00")

    with pytest.raises(errors.IdempotencyConflict):
        create(alice, "31.00")


@pytest.mark.django_db
def test_a_paid_business_order_cannot_be_paid_again(alice, funded_account):
    funded_account(alice, "100.00")
    first = pay(alice, "30.00")

    with pytest.raises(errors.Conflict) as refused:
        create(alice, "29.00", key="k2")
    with pytest.raises(errors.Conflict) as repaid:
        payment_orders.payment_order_pay(order=first, payer=alice, method="wechat_native", client_type="web")

    assert refused.value.fields == {"business_order_no": "payment_exists", "order_no": first.order_no}
    assert repaid.value.fields["status"] == "success"
    assert Account.objects.get(owner=alice).balance == D("70.00")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"business_order_no": ""}, "business_order_no"),
        ({"subject": " "}, "subject"),
        ({"amount": D("0.001")}, "amount"),
        ({"amount": D("-1.00")}, "amount"),
        ({"idempotency_key": " "}, "Idempotency-Key"),
        ({"expires_in_minutes": 0}, "expires_in_minutes"),
        ({"notify_url": "javascript:alert(1)"}, "notify_url"),
    ],
)
def test_bad_order_terms_of_the_merchant_are_refused_with_the_field_and_create_nothing(alice, extra, field):
    with pytest.raises(errors.ValidationFailed) as refused:
        create(alice, **({"amount": D("1.00")} | extra))

    assert field in refused.value.fields
    assert not PaymentOrder.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("means", "field"),
    [
        ({"method": "wechat_jsapi", "client_type": "wechat"}, "payer_id"),
        ({"method": "alipay_page", "client_type": "app"}, "client_type"),
        ({"method": "cash"}, "method"),
        ({"client_type": "fax"}, "client_type"),
    ],
)
def test_bad_means_of_payment_are_refused_with_the_field_and_change_nothing(alice, funded_account, means, field):
    funded_account(alice, "100.00")
    order = create(alice, "1.00").order

    with pytest.raises(errors.ValidationFailed) as refused:
        payment_orders.payment_order_pay(
            order=order, payer=alice, **({"method": "balance", "client_type": "app"} | means)
        )

    assert field in refused.value.fields
    assert PaymentOrder.objects.get().status == PaymentOrder.Status.AWAITING
    assert Account.objects.get(owner=alice).balance == D("100.00")


@pytest.mark.django_db
def test_a_payer_can_create_recharges_only(alice):
    with pytest.raises(errors.ValidationFailed) as refused:
        payment_orders.payment_order_create(
            user=alice,
            business_type="order_payment",
            method="wechat_native",
            amount=D("0.01"),
            client_type="web",
            idempotency_key="k",
        )

    assert refused.value.fields == {"business_type": "invalid"}
    assert not PaymentOrder.objects.exists()


@pytest.mark.django_db
def test_partial_then_full_refunds_of_a_balance_payment_restore_the_wallet(alice, funded_account, refunder):
    # Given a 50.00 balance payment
    funded_account(alice, "100.00")
    order = pay(alice, "50.00")

    # When 20.00 and then the remaining 30.00 are refunded
    first = refunds.refund_request(order=order, actor=refunder, amount=D("20.00"), idempotency_key="r1").refund
    second = refunds.refund_request(order=order, actor=refunder, amount=D("30.00"), idempotency_key="r2").refund

    # Then both succeeded at once and the wallet is whole again
    assert [first.status, second.status] == [Refund.Status.SUCCESS, Refund.Status.SUCCESS]
    assert Account.objects.get(owner=alice).balance == D("100.00")
    assert merchant() == D("0.00")
    assert Account.objects.get(code="escrow:refunds").balance == D("0.00")
    order.refresh_from_db()
    assert order.refunded_amount == D("50.00")
    assert selectors.payment_totals(order=order) == selectors.PaymentTotals(paid=D("50.00"), refunded=D("50.00"))
    # And nothing more can be refunded
    with pytest.raises(errors.LimitExceeded) as refused:
        refunds.refund_request(order=order, actor=refunder, amount=D("0.01"), idempotency_key="r3")
    assert refused.value.fields == {"amount": "exceeds_refundable", "refundable": "0.00"}
    assert ledger_audit() == []


@pytest.mark.django_db
def test_the_payer_cannot_refund_their_own_payment(alice, funded_account):
    funded_account(alice, "100.00")
    order = pay(alice, "50.00")

    with pytest.raises(errors.PermissionDenied):
        refunds.refund_request(order=order, actor=alice, amount=D("50.00"), idempotency_key="r1")

    assert not Refund.objects.exists()
    assert Account.objects.get(owner=alice).balance == D("50.00")


@pytest.mark.django_db
def test_a_refund_replayed_with_its_key_is_the_same_refund(alice, funded_account, refunder):
    funded_account(alice, "100.00")
    order = pay(alice, "50.00")
    first = refunds.refund_request(order=order, actor=refunder, amount=D("20.00"), idempotency_key="r1")

    again = refunds.refund_request(order=order, actor=refunder, amount=D("20.00"), idempotency_key="r1")

    assert (again.refund.pk, again.created) == (first.refund.pk, False)
    assert Account.objects.get(owner=alice).balance == D("70.00")
    with pytest.raises(errors.IdempotencyConflict):
        refunds.refund_request(order=order, actor=refunder, amount=D("21.00"), idempotency_key="r1")


@pytest.mark.django_db
def test_another_merchants_refund_with_the_same_key_is_its_own_refund(alice, funded_account, refunder):
    # Given a payment to the shop refunded with key r1, and a payment alice made to a bazaar
    funded_account(alice, "100.00")
    order = pay(alice, "50.00")
    bazaar = merchant_new("bazaar")
    other = merchants.merchant_payment_create(
        merchant=bazaar, business_order_no="BO-1", amount=D("50.00"), subject="Rug", payer="alice", idempotency_key="k1"
    ).order
    other = payment_orders.payment_order_pay(order=other, payer=alice, method="balance", client_type="app").order
    first = refunds.refund_request(order=order, actor=refunder, amount=D("20.00"), idempotency_key="r1")

    # When the bazaar refunds its own payment with the same key
    second = refunds.refund_request(order=other, actor=bazaar.service_user, amount=D("20.00"), idempotency_key="r1")

    # Then it is a new refund, made; and neither merchant may refund the other's payment
    assert second.created and second.refund.pk != first.refund.pk
    assert (second.refund.status, second.refund.requested_by) == ("success", bazaar.service_user)
    assert Account.objects.get(owner=alice).balance == D("40.00")
    with pytest.raises(errors.PermissionDenied):
        refunds.refund_request(order=order, actor=bazaar.service_user, amount=D("1.00"), idempotency_key="r2")


@pytest.mark.django_db
def test_a_callers_key_reused_for_another_payment_is_a_conflict(alice, funded_account, refunder):
    funded_account(alice, "100.00")
    first_order, second_order = pay(alice, "30.00"), pay(alice, "30.00", key="k2", business_order_no="BO-2")
    refunds.refund_request(order=first_order, actor=refunder, amount=D("10.00"), idempotency_key="r1")

    with pytest.raises(errors.IdempotencyConflict):
        refunds.refund_request(order=second_order, actor=refunder, amount=D("10.00"), idempotency_key="r1")

    assert not Refund.objects.filter(payment_order=second_order).exists()


@pytest.mark.django_db(transaction=True)
def test_one_callers_key_sent_for_two_payments_at_once_refunds_one_of_them(alice, funded_account, refunder):
    funded_account(alice, "100.00")
    orders = [pay(alice, "30.00", key=f"k{i}", business_order_no=f"BO-{i}") for i in range(2)]

    def refund(i: int) -> str:
        return refunds.refund_request(
            order=orders[i], actor=refunder, amount=D("10.00"), idempotency_key="r1"
        ).refund.status

    outcomes = run_in_threads(2, refund)

    assert outcomes == Counter({"success": 1, "idempotency_conflict": 1})
    assert Refund.objects.count() == 1
    assert Account.objects.get(owner=alice).balance == D("50.00")
    assert ledger_audit() == []


@pytest.mark.django_db
def test_a_recharge_is_not_refundable_by_any_merchant(alice, refunder):
    # Given a paid recharge (its money is in alice's wallet now)
    order = PaymentOrder.objects.create(
        order_no="RC1",
        user=alice,
        business_type="recharge",
        method="wechat_native",
        channel=Channel.objects.get(code="wechat_pay"),
        client_type="web",
        subject="钱包充值",
        amount=D("10.00"),
        idempotency_key="k",
        request_fingerprint="f",
        expires_at=timezone.now(),
        status="success",
    )

    with pytest.raises(errors.PermissionDenied) as refused:
        refunds.refund_request(order=order, actor=refunder, amount=D("1.00"), idempotency_key="r1")

    assert refused.value.fields == {"merchant": "not_yours"}
    assert not Refund.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_refunds_that_together_exceed_the_payment_succeed_exactly_as_far_as_they_fit(
    alice, funded_account, refunder
):
    # Given a 100.00 balance payment
    funded_account(alice, "100.00")
    order = pay(alice, "100.00")

    # When ten refunds of 30.00 arrive at once
    def refund(i: int) -> str:
        refund = refunds.refund_request(order=order, actor=refunder, amount=D("30.00"), idempotency_key=f"r{i}").refund
        return refund.status

    outcomes = run_in_threads(10, refund)

    # Then exactly three fit, and the wallet got 90.00 back
    assert outcomes == Counter({"success": 3, "limit_exceeded": 7})
    assert Account.objects.get(owner=alice).balance == D("90.00")
    order.refresh_from_db()
    assert order.refunded_amount == D("90.00")
    assert PaymentEvent.objects.filter(refund__payment_order=order, outcome="applied").count() == 3
    assert ledger_audit() == []
