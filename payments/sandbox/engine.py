"""What the sandbox does with a payout request, whatever the protocol: record it, pay at most
once per order number, play the scenario, and schedule the notifies it implies.

Protocol modules (``wechat_v3``, ``wechat_v2``, ``bank``) parse and sign; this module decides.
"""

import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from functools import partial

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from payments.sandbox.fees import payout_fee
from payments.sandbox.models import Protocol, SandboxHit, SandboxPayout, SandboxRule, Scenario
from wallet.money import ZERO
from wallet.task_queue import task_enqueue

# Scenarios that take nothing: the client sees a timeout or a 500 and may send again.
NOTIFY_TASK = "sandbox.notify"
NOTHING_TAKEN = (Scenario.TIMEOUT, Scenario.SERVER_ERROR)
FIRST_STATE = {
    Scenario.SUCCEED: SandboxPayout.State.SUCCESS,
    Scenario.SLOW: SandboxPayout.State.SUCCESS,
    Scenario.DUPLICATE_NOTIFY: SandboxPayout.State.SUCCESS,
    Scenario.DROP_RESPONSE: SandboxPayout.State.SUCCESS,
    Scenario.RETURN: SandboxPayout.State.SUCCESS,
    Scenario.PROCESS: SandboxPayout.State.PROCESSING,
    Scenario.LATE_NOTIFY: SandboxPayout.State.PROCESSING,
    Scenario.FAIL: SandboxPayout.State.FAILED,
}
# States in which the payout's money left: it carries the channel's fee from then on.
PAID = (SandboxPayout.State.SUCCESS, SandboxPayout.State.RETURNED)
# Where a payout's state may go next: processing ends paid or failed, a paid one may come back.
FORWARD: dict[str, tuple[str, ...]] = {
    SandboxPayout.State.PROCESSING: (SandboxPayout.State.SUCCESS, SandboxPayout.State.FAILED),
    SandboxPayout.State.SUCCESS: (SandboxPayout.State.RETURNED,),
}
DEFAULT_FAILURE_CODE = "PAYEE_ACCOUNT_ABNORMAL"
# Protocols whose failures are named otherwise (a FAIL rule without a code of its own).
DEFAULT_FAILURE_CODES: dict[str, str] = {Protocol.ALIPAY: "PAYEE_ACCOUNT_STATUS_ERROR"}
# How long TIMEOUT keeps the client waiting when its rule gives no delay: past any read timeout.
DEFAULT_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class Decision:
    """What the protocol view must answer: ``payout`` is None when nothing was taken."""

    scenario: str
    payout: SandboxPayout | None
    delay: float
    replayed: bool


def payout_receive(
    *, protocol: str, order_no: str, amount: Decimal, payee_masked: str, notify_url: str = "", refusal: str = ""
) -> Decision:
    """Take one payout request. The first request for an order number decides; every later one
    gets the same payout back (never a second payment), counted in ``requests``. A ``refusal``
    (the channel's own check of the payee failed, such as Alipay's real-name check) records the
    first request as failed with that code, whatever the rules say."""
    SandboxHit.objects.create(protocol=protocol, order_no=order_no)
    for _ in range(2):
        try:
            return _receive_once(protocol, order_no, amount, payee_masked, notify_url, refusal)
        except IntegrityError:
            continue  # A concurrent first request created it: the retry finds it.
    raise RuntimeError(f"sandbox payout {protocol} {order_no} could not be recorded")


@transaction.atomic
def _receive_once(
    protocol: str, order_no: str, amount: Decimal, payee_masked: str, notify_url: str, refusal: str
) -> Decision:
    existing = SandboxPayout.objects.select_for_update().filter(protocol=protocol, order_no=order_no).first()
    if existing is not None:
        SandboxPayout.objects.filter(pk=existing.pk).update(requests=F("requests") + 1)
        return Decision(scenario=Scenario.SUCCEED, payout=existing, delay=0, replayed=True)
    rule = None if refusal else _rule_take(protocol, order_no)
    scenario = Scenario.FAIL if refusal else (rule.scenario if rule else Scenario.SUCCEED)
    delay = rule.delay_seconds if rule else 0.0
    failure_code = (
        refusal or (rule.failure_code if rule else "") or DEFAULT_FAILURE_CODES.get(protocol, DEFAULT_FAILURE_CODE)
    )
    if scenario in NOTHING_TAKEN:
        return Decision(scenario=scenario, payout=None, delay=delay or DEFAULT_TIMEOUT_SECONDS, replayed=False)
    state = FIRST_STATE[Scenario(scenario)]
    with transaction.atomic():
        payout = SandboxPayout.objects.create(
            protocol=protocol,
            order_no=order_no,
            channel_reference=f"SBX{uuid.uuid4().hex[:24].upper()}",
            amount=amount,
            payee_masked=payee_masked,
            state=state,
            fee=payout_fee(protocol=protocol, amount=amount) if state in PAID else ZERO,
            failure_code=failure_code if state == SandboxPayout.State.FAILED else "",
            scenario=scenario,
            notify_url=notify_url,
            finished_at=None if state == SandboxPayout.State.PROCESSING else timezone.now(),
        )
    _notifies_on_commit(payout, delay)
    return Decision(scenario=scenario, payout=payout, delay=delay, replayed=False)


def payout_settle(*, payout_id: int, state: str) -> SandboxPayout:
    """Move a payout to its final state (a PROCESS scenario finishing, or a bank return); one
    paid now is charged its fee, a return keeps the fee of the payment it undoes. Only forward:
    a notify task that runs late (a RETURN's success after its return) changes nothing."""
    with transaction.atomic():
        payout = SandboxPayout.objects.select_for_update().get(pk=payout_id)
        if state not in FORWARD.get(payout.state, ()):
            return payout
        if state in PAID and payout.state not in PAID:
            payout.fee = payout_fee(protocol=payout.protocol, amount=payout.amount)
        payout.state = state
        payout.finished_at = timezone.now()
        payout.save(update_fields=["state", "fee", "finished_at"])
    return payout


def payout_find(*, protocol: str, order_no: str) -> SandboxPayout | None:
    return SandboxPayout.objects.filter(protocol=protocol, order_no=order_no).first()


def rule_add(
    *,
    protocol: str,
    scenario: str,
    order_no: str = "",
    failure_code: str = "",
    delay_seconds: float = 0,
    remaining: int | None = None,
) -> SandboxRule:
    """Tell the sandbox what to do next: for ``order_no``, or for any order when blank."""
    return SandboxRule.objects.create(
        protocol=protocol,
        order_no=order_no,
        scenario=scenario,
        failure_code=failure_code,
        delay_seconds=delay_seconds,
        remaining=remaining,
    )


def pause(seconds: float) -> None:
    """The sandbox's own stalls (SLOW, TIMEOUT); a function so it reads as intended."""
    time.sleep(seconds)


def _rule_take(protocol: str, order_no: str) -> SandboxRule | None:
    """The rule for this order, else the newest rule for any order; uses up one of its turns."""
    rule = (
        SandboxRule.objects.select_for_update()
        .filter(Q(order_no=order_no) | Q(order_no=""), protocol=protocol)
        .filter(Q(remaining__isnull=True) | Q(remaining__gt=0))
        .order_by(F("order_no").desc(), "-id")
        .first()
    )
    if rule is not None and rule.remaining is not None:
        SandboxRule.objects.filter(pk=rule.pk).update(remaining=F("remaining") - 1)
    return rule


def _notifies_on_commit(payout: SandboxPayout, delay: float) -> None:
    """Schedule the notifies the scenario implies; for protocols without notifies (or without a
    notify URL) the same tasks only settle the payout, for queries to find."""
    scenario = payout.scenario
    if scenario == Scenario.DROP_RESPONSE:
        return  # The channel lost its answer and its notify: only a query finds out.
    plan: list[tuple[str, float]]
    if scenario == Scenario.DUPLICATE_NOTIFY:
        plan = [(payout.state, 0.0)] * 3
    elif scenario == Scenario.PROCESS:
        plan = [(SandboxPayout.State.SUCCESS, delay or 1.0)]
    elif scenario == Scenario.LATE_NOTIFY:
        plan = [(SandboxPayout.State.SUCCESS, delay or 60.0)]
    elif scenario == Scenario.SLOW:
        plan = [(payout.state, delay)]  # a slow channel's notify follows its slow answer
    elif scenario == Scenario.RETURN:
        plan = [(SandboxPayout.State.SUCCESS, 0.0), (SandboxPayout.State.RETURNED, delay or 2.0)]
    else:
        plan = [(payout.state, 0.0)]
    for state, countdown in plan:
        transaction.on_commit(partial(task_enqueue, NOTIFY_TASK, payout.pk, state, countdown=countdown))
