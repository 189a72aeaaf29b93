"""Helpers of the internal reconciliation tests: orders driven through the real services (the
channel's side played by applying what it would answer), and a look at the discrepancies."""

from datetime import timedelta
from decimal import Decimal
from itertools import count
from typing import TypeVar

from django.db.models import Model
from django.utils import timezone

from payments.channels import base
from payments.channels.models import Channel
from payments.merchants.tests.factories import merchant_of, order_payment
from payments.order_numbers import order_no_new
from payments.orders import refunds
from payments.orders import services as payment_orders
from payments.orders.models import PaymentOrder, Refund
from payments.withdrawals import services as withdrawals
from payments.withdrawals.models import Withdrawal, WithdrawalStatus
from reconciliation.models import Discrepancy
from wallet import services as ledger

D = Decimal
TRADE_CHANNEL = "wechat_pay"
APP_ID = "wx-app-test"
MERCHANT_ID = "1900000109"
CARD_NUMBER = "6222020200112233446"
_keys = count(1)
M = TypeVar("M", bound=Model)


def channel_order(user, amount: str, *, business_type: str = "recharge", channel: str = TRADE_CHANNEL) -> PaymentOrder:
    """A channel order opened at the channel (``paying``), as paying it at a channel leaves it."""
    channel_row = Channel.objects.get(code=channel)
    number = next(_keys)
    return PaymentOrder.objects.create(
        order_no=order_no_new("RC" if business_type == "recharge" else "PM"),
        user=user,
        business_type=business_type,
        business_order_no="" if business_type == "recharge" else f"BO-{number}",
        merchant=merchant_of("shop") if business_type != "recharge" else None,
        merchant_account=merchant_of("shop").account if business_type != "recharge" else None,
        method="wechat_native",
        channel=channel_row,
        client_type="web",
        subject="Recharge" if business_type == "recharge" else "Annual plan",
        amount=D(amount),
        fee=channel_row.fee_for(D(amount)),
        channel_app_id=APP_ID,
        channel_merchant_id=MERCHANT_ID,
        status=PaymentOrder.Status.PAYING,
        idempotency_key=f"key-{number}",
        request_fingerprint="0" * 64,
        expires_at=timezone.now() + timedelta(hours=2),
    )


def channel_says(order: PaymentOrder, state: base.PaymentState) -> PaymentOrder:
    """Apply the channel's verified word on ``order`` (a notify), through the service."""
    status = base.PaymentStatus(
        order_no=order.order_no,
        state=state,
        amount=order.amount,
        currency=order.currency,
        app_id=APP_ID,
        merchant_id=MERCHANT_ID,
        transaction_id=f"4200{order.order_no[-20:]}",
    )
    assert order.channel is not None
    return payment_orders.payment_status_apply(channel=order.channel, status=status, operation="notify")


def recharged(user, amount: str) -> PaymentOrder:
    """A recharge the channel collected: the user's wallet is credited with ``amount``."""
    return channel_says(channel_order(user, amount), base.PaymentState.PAID)


def paid_by_channel(user, amount: str) -> PaymentOrder:
    """An order payment the channel collected for the merchant."""
    return channel_says(channel_order(user, amount, business_type="order_payment"), base.PaymentState.PAID)


def paid_from_balance(user, amount: str) -> PaymentOrder:
    """An order payment the shop made for ``user``, who paid it from the balance."""
    return order_payment(user, amount, method="balance", client_type="web", merchant=merchant_of("shop"))


def merchant_service():
    """The service account of the shop, which creates and refunds its order payments."""
    return merchant_of("shop").service_user


def refund_requested(order: PaymentOrder, amount: str, *, by) -> Refund:
    """A refund of ``order`` as requested: a balance payment's is done at once, a channel's waits."""
    return refunds.refund_request(order=order, actor=by, amount=D(amount), idempotency_key=f"r-{next(_keys)}").refund


def refunded(order: PaymentOrder, amount: str, *, by, succeed: bool = True) -> Refund:
    """A refund of ``order``: a balance payment's at once, a channel's as the channel answers."""
    refund = refund_requested(order, amount, by=by)
    if order.channel is None:
        return refund
    state = base.RefundState.SUCCESS if succeed else base.RefundState.FAILED
    status = base.RefundStatus(
        refund_no=refund.refund_no, state=state, amount=refund.amount, order_no=order.order_no, refund_id="5000001"
    )
    return refunds.refund_status_apply(channel=order.channel, status=status, operation="refund", kind="answer")


def withdrawn(user, amount: str, status: str, *, staff) -> Withdrawal:
    """A withdrawal of ``user`` driven through the services into ``status`` (a final one)."""
    card, _ = withdrawals.payout_account_bind(
        user=user, kind="bank_card", card_number=CARD_NUMBER, holder_name="张三", bank_code="ICBC"
    )
    withdrawal = withdrawals.withdrawal_submit(
        user=user, payout_account=card, amount=D(amount), idempotency_key=f"w-{next(_keys)}"
    ).withdrawal
    if withdrawal.status == WithdrawalStatus.PENDING:
        if status == WithdrawalStatus.REJECTED:
            return withdrawals.withdrawal_reject(withdrawal=withdrawal, actor=staff, reason="not this time")
        withdrawal = withdrawals.withdrawal_approve(withdrawal=withdrawal, actor=staff)
    if status == WithdrawalStatus.CANCELLED:
        return withdrawals.withdrawal_cancel(withdrawal=withdrawal, actor=user)
    withdrawal = withdrawals.withdrawal_dispatch(withdrawal=withdrawal)
    if status == WithdrawalStatus.FAILED:
        return withdrawals.withdrawal_fail(withdrawal=withdrawal, code="ACCOUNT_ERROR", message="closed account")
    withdrawal = withdrawals.withdrawal_succeed(withdrawal=withdrawal, channel_reference="BP-1")
    if status == WithdrawalStatus.REFUNDED:
        return withdrawals.withdrawal_reverse(withdrawal=withdrawal, reason="bank bounce")
    return withdrawal


def forced(instance: M, **fields) -> M:
    """Change the row behind the services' back (the state fields are protected)."""
    rows = type(instance)._default_manager
    rows.filter(pk=instance.pk).update(**fields)
    return rows.get(pk=instance.pk)


def open_discrepancies() -> set[tuple[str, str, str]]:
    """(kind, object_kind, order_no) of every discrepancy being worked on."""
    return set(
        Discrepancy.objects.filter(status__in=["open", "investigating"]).values_list("kind", "object_kind", "order_no")
    )


def wallet_code(user) -> str:
    return ledger.account_for_user(user=user).code
