"""What the sandbox does with payments and refunds, whatever the protocol: one payment per
merchant order number, one refund per refund number, never more refunded than paid, the
scenario the rules ask for, and the notifies it implies.

Protocol modules parse, check signatures and sign answers; this module decides. A payment
"paid at once" is paid when it is created (so a query right after sees it); its notify goes
by Celery after commit, like the channel's own notify service.
"""

import uuid
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from functools import partial

from django.db import IntegrityError, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from payments.sandbox.fees import payment_fee, refund_fee
from payments.sandbox.models import (
    REFUND_SCENARIOS,
    PaymentScenario,
    SandboxPayment,
    SandboxPaymentRule,
    SandboxRefund,
)
from wallet.money import ZERO
from wallet.task_queue import task_enqueue

PAYMENT_NOTIFY_TASK = "sandbox.payment_notify"
REFUND_NOTIFY_TASK = "sandbox.refund_notify"
PAID_AT_ONCE = (
    PaymentScenario.PAY_NOW,
    PaymentScenario.DUPLICATE_NOTIFY,
    PaymentScenario.WRONG_AMOUNT_NOTIFY,
    PaymentScenario.BAD_SIGNATURE_NOTIFY,
    PaymentScenario.PAID_WITHOUT_NOTIFY,
)
DEFAULT_PAY_LATE_SECONDS = 60.0
DEFAULT_REFUND_PROCESS_SECONDS = 1.0
# What a WRONG_AMOUNT_NOTIFY notify claims on top of the real amount.
WRONG_AMOUNT_EXTRA = Decimal("1.00")
REFUND_FAILURE_CODE = "USER_ACCOUNT_ABNORMAL"


class NotifyVariant(StrEnum):
    """What a payment notify carries: the truth, a wrong amount (signed), or a broken signature."""

    GENUINE = "genuine"
    WRONG_AMOUNT = "wrong_amount"
    BAD_SIGNATURE = "bad_signature"


class RefundRefusal(StrEnum):
    """Why a refund request is refused outright; protocol modules answer each in their codes."""

    PAYMENT_NOT_FOUND = "payment_not_found"
    NOT_PAID = "not_paid"
    EXCEEDS_PAID = "exceeds_paid"
    AMOUNT_CHANGED = "amount_changed"  # the same refund number again, for another amount


class RefundRefused(Exception):
    def __init__(self, reason: RefundRefusal) -> None:
        super().__init__(reason.value)
        self.reason = reason


@dataclass(frozen=True)
class PaymentReceipt:
    """The payment the request opened, or the one it had opened before (``replayed``)."""

    payment: SandboxPayment
    replayed: bool


def payment_receive(
    *,
    protocol: str,
    order_no: str,
    amount: Decimal,
    subject: str,
    method: str,
    notify_url: str = "",
    payer_masked: str = "",
) -> PaymentReceipt:
    """Open a payment. The first request for an order number decides (and plays its rule);
    later ones get the same payment back, whatever they say: the protocol module compares
    amounts and answers the channel's "order number reused" code when they differ."""
    for _ in range(2):
        try:
            return _payment_receive_once(protocol, order_no, amount, subject, method, notify_url, payer_masked)
        except IntegrityError:
            continue  # A concurrent first request created it: the retry finds it.
    raise RuntimeError(f"sandbox payment {protocol} {order_no} could not be recorded")


@transaction.atomic
def _payment_receive_once(
    protocol: str, order_no: str, amount: Decimal, subject: str, method: str, notify_url: str, payer_masked: str
) -> PaymentReceipt:
    existing = SandboxPayment.objects.select_for_update().filter(protocol=protocol, order_no=order_no).first()
    if existing is not None:
        SandboxPayment.objects.filter(pk=existing.pk).update(requests=F("requests") + 1)
        return PaymentReceipt(payment=existing, replayed=True)
    rule = _rule_take(protocol, order_no, refund=False)
    scenario = PaymentScenario(rule.scenario) if rule else PaymentScenario.PAY_NOW
    now = timezone.now()
    paid = scenario in PAID_AT_ONCE
    with transaction.atomic():
        payment = SandboxPayment.objects.create(
            protocol=protocol,
            order_no=order_no,
            transaction_id=_channel_id("T"),
            amount=amount,
            subject=subject[:256],
            method=method,
            payer_masked=payer_masked or ("o***sandbox" if paid else ""),
            state=SandboxPayment.State.PAID if paid else SandboxPayment.State.NOT_PAID,
            fee=payment_fee(protocol=protocol, amount=amount) if paid else ZERO,
            scenario=scenario,
            notify_url=notify_url,
            paid_at=now if paid else None,
        )
    _payment_notifies_on_commit(payment, delay=rule.delay_seconds if rule else 0.0)
    return PaymentReceipt(payment=payment, replayed=False)


def payment_find(*, protocol: str, order_no: str) -> SandboxPayment | None:
    return SandboxPayment.objects.filter(protocol=protocol, order_no=order_no).first()


def payment_pay(*, payment_id: int, payer_masked: str = "o***sandbox") -> SandboxPayment:
    """The payer pays (the cashier page, or a PAY_LATE payer): paid unless closed meanwhile."""
    with transaction.atomic():
        payment = SandboxPayment.objects.select_for_update().get(pk=payment_id)
        if payment.state != SandboxPayment.State.NOT_PAID:
            return payment
        payment.state = SandboxPayment.State.PAID
        payment.paid_at = timezone.now()
        payment.fee = payment_fee(protocol=payment.protocol, amount=payment.amount)
        payment.payer_masked = payment.payer_masked or payer_masked
        payment.save(update_fields=["state", "paid_at", "fee", "payer_masked"])
    return payment


def payment_pay_and_notify(*, payment_id: int) -> SandboxPayment:
    """The cashier page's "pay": pay, and notify the merchant like PAY_NOW would."""
    with transaction.atomic():
        payment = payment_pay(payment_id=payment_id)
        _send_on_commit(payment, NotifyVariant.GENUINE, 0.0)
    return payment


def payment_close(*, protocol: str, order_no: str) -> SandboxPayment | None:
    """Close an unpaid payment; a paid one stays paid (the caller answers "already paid").
    None when there is no such payment."""
    with transaction.atomic():
        payment = SandboxPayment.objects.select_for_update().filter(protocol=protocol, order_no=order_no).first()
        if payment is None or payment.state != SandboxPayment.State.NOT_PAID:
            return payment
        payment.state = SandboxPayment.State.CLOSED
        payment.closed_at = timezone.now()
        payment.save(update_fields=["state", "closed_at"])
    return payment


def refund_receive(
    *, protocol: str, order_no: str, refund_no: str, amount: Decimal, notify_url: str = ""
) -> tuple[SandboxRefund, bool]:
    """Take a refund of the payment ``order_no``: (refund, replayed). Raises ``RefundRefused``
    when the payment is unknown or unpaid, or when the refunds not failed would exceed it."""
    for _ in range(2):
        try:
            return _refund_receive_once(protocol, order_no, refund_no, amount, notify_url)
        except IntegrityError:
            continue
    raise RuntimeError(f"sandbox refund {protocol} {refund_no} could not be recorded")


@transaction.atomic
def _refund_receive_once(
    protocol: str, order_no: str, refund_no: str, amount: Decimal, notify_url: str
) -> tuple[SandboxRefund, bool]:
    payment = SandboxPayment.objects.select_for_update().filter(protocol=protocol, order_no=order_no).first()
    if payment is None:
        raise RefundRefused(RefundRefusal.PAYMENT_NOT_FOUND)
    existing = SandboxRefund.objects.filter(protocol=protocol, refund_no=refund_no).first()
    if existing is not None:
        if existing.amount != amount or existing.payment_id != payment.pk:
            raise RefundRefused(RefundRefusal.AMOUNT_CHANGED)
        SandboxRefund.objects.filter(pk=existing.pk).update(requests=F("requests") + 1)
        return existing, True
    if payment.state != SandboxPayment.State.PAID:
        raise RefundRefused(RefundRefusal.NOT_PAID)
    taken = payment.refunds.exclude(state=SandboxRefund.State.FAILED).aggregate(total=Sum("amount"))["total"]
    if (taken or 0) + amount > payment.amount:
        raise RefundRefused(RefundRefusal.EXCEEDS_PAID)
    rule = _rule_take(protocol, order_no, refund=True)
    scenario = PaymentScenario(rule.scenario) if rule else PaymentScenario.REFUND_SUCCEED
    at_once = scenario == PaymentScenario.REFUND_SUCCEED
    with transaction.atomic():
        refund = SandboxRefund.objects.create(
            protocol=protocol,
            payment=payment,
            refund_no=refund_no,
            refund_id=_channel_id("R"),
            amount=amount,
            state=SandboxRefund.State.SUCCESS if at_once else SandboxRefund.State.PROCESSING,
            fee=refund_fee(payment=payment, amount=amount) if at_once else ZERO,
            scenario=scenario,
            notify_url=notify_url,
            finished_at=timezone.now() if at_once else None,
        )
    delay = (rule.delay_seconds if rule else 0.0) or (0.0 if at_once else DEFAULT_REFUND_PROCESS_SECONDS)
    final = SandboxRefund.State.FAILED if scenario == PaymentScenario.REFUND_FAIL else SandboxRefund.State.SUCCESS
    transaction.on_commit(partial(task_enqueue, REFUND_NOTIFY_TASK, refund.pk, final, countdown=delay))
    return refund, False


def refund_find(*, protocol: str, refund_no: str) -> SandboxRefund | None:
    return SandboxRefund.objects.select_related("payment").filter(protocol=protocol, refund_no=refund_no).first()


def refund_settle(*, refund_id: int, state: str) -> SandboxRefund:
    """Finish a processing refund; one that succeeds gives back its share of the payment's fee."""
    with transaction.atomic():
        refund = SandboxRefund.objects.select_for_update(of=("self",)).select_related("payment").get(pk=refund_id)
        if refund.state == SandboxRefund.State.PROCESSING:
            refund.state = state
            refund.finished_at = timezone.now()
            if state == SandboxRefund.State.SUCCESS:
                refund.fee = refund_fee(payment=refund.payment, amount=refund.amount)
            refund.save(update_fields=["state", "fee", "finished_at"])
    return refund


def payment_rule_add(
    *, protocol: str, scenario: str, order_no: str = "", delay_seconds: float = 0, remaining: int | None = None
) -> SandboxPaymentRule:
    """Tell the sandbox what the next payments (or refunds) do: for ``order_no``, or any order."""
    return SandboxPaymentRule.objects.create(
        protocol=protocol, order_no=order_no, scenario=scenario, delay_seconds=delay_seconds, remaining=remaining
    )


def notify_amount(payment: SandboxPayment, variant: str) -> Decimal:
    """The amount a notify of this variant claims."""
    return payment.amount + WRONG_AMOUNT_EXTRA if variant == NotifyVariant.WRONG_AMOUNT else payment.amount


def _payment_notifies_on_commit(payment: SandboxPayment, *, delay: float) -> None:
    scenario = payment.scenario
    if scenario in (PaymentScenario.NEVER_PAY, PaymentScenario.PAID_WITHOUT_NOTIFY):
        return
    if scenario == PaymentScenario.PAY_LATE:
        _send_on_commit(payment, NotifyVariant.GENUINE, delay or DEFAULT_PAY_LATE_SECONDS)
    elif scenario == PaymentScenario.DUPLICATE_NOTIFY:
        for _ in range(3):
            _send_on_commit(payment, NotifyVariant.GENUINE, 0.0)
    elif scenario == PaymentScenario.WRONG_AMOUNT_NOTIFY:
        _send_on_commit(payment, NotifyVariant.WRONG_AMOUNT, 0.0)
    elif scenario == PaymentScenario.BAD_SIGNATURE_NOTIFY:
        _send_on_commit(payment, NotifyVariant.BAD_SIGNATURE, 0.0)
    else:
        _send_on_commit(payment, NotifyVariant.GENUINE, delay)


def _send_on_commit(payment: SandboxPayment, variant: NotifyVariant, countdown: float) -> None:
    transaction.on_commit(partial(task_enqueue, PAYMENT_NOTIFY_TASK, payment.pk, variant.value, countdown=countdown))


def _rule_take(protocol: str, order_no: str, *, refund: bool) -> SandboxPaymentRule | None:
    """The rule for this order, else the newest for any order; uses up one of its turns."""
    family = Q(scenario__in=REFUND_SCENARIOS)
    rule = (
        SandboxPaymentRule.objects.select_for_update()
        .filter(family if refund else ~family)
        .filter(Q(order_no=order_no) | Q(order_no=""), protocol=protocol)
        .filter(Q(remaining__isnull=True) | Q(remaining__gt=0))
        .order_by(F("order_no").desc(), "-id")
        .first()
    )
    if rule is not None and rule.remaining is not None:
        SandboxPaymentRule.objects.filter(pk=rule.pk).update(remaining=F("remaining") - 1)
    return rule


def _channel_id(prefix: str) -> str:
    return f"{prefix}SBX{uuid.uuid4().hex[:26].upper()}"
