"""The transfer rules risk control applies through the guard wallet registers (docs/WALLET.md)."""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from risk import services as risk_services
from risk.models import RiskEvaluation
from risk.tests.support import set_rule
from wallet import errors
from wallet import services as ledger
from wallet.audit import ledger_audit
from wallet.models import Account, Hold, PeerTransfer, Transfer
from wallet.selectors import wallet_summary
from wallet.transfers import services
from wallet.transfers.guards import guard_replaced

pytestmark = pytest.mark.django_db

D = Decimal


def balance(user) -> Decimal:
    return wallet_summary(user=user).balance


def evaluations() -> list[RiskEvaluation]:
    return list(RiskEvaluation.objects.filter(flow="transfer").order_by("id"))


def test_a_transfer_within_every_rule_is_posted_and_its_evaluation_logged(sender, recipient, send):
    transfer = send(sender, recipient, "12.34")

    assert transfer.status == PeerTransfer.Status.POSTED
    assert (balance(sender), balance(recipient)) == (D("99987.66"), D("12.34"))
    [evaluation] = evaluations()
    assert (evaluation.outcome, evaluation.user_id, evaluation.amount) == ("allow", sender.pk, D("12.34"))
    assert transfer.guard_reference == f"risk_evaluation:{evaluation.pk}"
    assert evaluation.inputs["new_recipient"] is True and evaluation.inputs["recipient_id"] == recipient.pk


def test_the_ledger_reference_names_the_transfer_not_the_recipient(sender, recipient, send):
    transfer = send(sender, recipient, "5.00")

    assert Transfer.objects.get(pk=transfer.ledger_transfer_id).reference == f"p2p:{transfer.pk}"


def test_a_transfer_beyond_the_balance_is_refused_before_risk_control_decides(
    recipient, send, make_user, funded_account
):
    poor = make_user("poor")
    funded_account(poor, "5.00")

    with pytest.raises(errors.InsufficientFunds):
        send(poor, recipient, "5.01")

    assert not PeerTransfer.objects.exists() and not evaluations()


def test_a_transfer_above_the_single_maximum_is_refused_with_the_rule_and_moves_nothing(sender, recipient, send):
    set_rule("transfer_single_max", amount=D("500.00"))

    with pytest.raises(errors.LimitExceeded) as refused:
        send(sender, recipient, "500.01")

    assert refused.value.fields == {"risk_rule": "transfer_single_max"}
    assert not PeerTransfer.objects.exists()
    assert balance(recipient) == D("0.00")
    # The refusal stays on record although the transfer rolled back.
    assert [e.outcome for e in evaluations()] == ["reject"]
    assert evaluations()[0].refusal_code == "limit_exceeded"


def test_the_single_maximum_itself_is_allowed(sender, recipient, send):
    set_rule("transfer_single_max", amount=D("500.00"))

    assert send(sender, recipient, "500.00").status == PeerTransfer.Status.POSTED


def test_the_daily_count_refuses_the_next_transfer_and_a_refused_one_uses_no_quota(sender, recipient, send):
    set_rule("transfer_daily_count", count=3)
    set_rule("transfer_single_max", amount=D("100.00"))
    send(sender, recipient, "1.00")
    send(sender, recipient, "1.00")
    # A transfer refused by another rule, or for want of money, counts for nothing.
    with pytest.raises(errors.LimitExceeded):
        send(sender, recipient, "100.01")
    with pytest.raises(errors.InsufficientFunds):
        send(sender, recipient, "99999.00")

    third = send(sender, recipient, "1.00")
    with pytest.raises(errors.LimitExceeded) as refused:
        send(sender, recipient, "1.00")

    assert third.status == PeerTransfer.Status.POSTED
    assert refused.value.fields == {"risk_rule": "transfer_daily_count"}
    assert PeerTransfer.objects.filter(sender=sender).count() == 3


def test_the_daily_amount_counts_today_including_this_transfer(sender, recipient, send):
    set_rule("transfer_daily_amount", amount=D("100.00"))
    send(sender, recipient, "60.00")

    with pytest.raises(errors.LimitExceeded) as refused:
        send(sender, recipient, "40.01")
    last = send(sender, recipient, "40.00")

    assert refused.value.fields == {"risk_rule": "transfer_daily_amount"}
    assert last.status == PeerTransfer.Status.POSTED
    assert balance(recipient) == D("100.00")


def test_the_day_is_the_local_calendar_day(sender, recipient, send):
    # Given the limit reached at 23:50 local time (Asia/Shanghai)
    set_rule("transfer_daily_count", count=1)
    late = datetime(2026, 3, 2, 23, 50, tzinfo=timezone.get_default_timezone())
    with time_machine.travel(late, tick=False):
        send(sender, recipient, "1.00")
        with pytest.raises(errors.LimitExceeded):
            send(sender, recipient, "1.00")

    # When the local day turns (16:00 UTC), then the count starts again
    with time_machine.travel(late + timedelta(minutes=15), tick=False):
        assert send(sender, recipient, "1.00").status == PeerTransfer.Status.POSTED


def test_a_large_first_transfer_to_a_new_recipient_is_held_for_review(sender, recipient, send):
    set_rule("transfer_new_recipient_review", amount=D("2000.00"))

    transfer = send(sender, recipient, "2000.00")

    assert transfer.status == PeerTransfer.Status.UNDER_REVIEW
    hold = Hold.objects.get(peer_transfer=transfer)
    assert (hold.status, hold.amount, hold.reference) == ("pending", D("2000.00"), f"p2p:{transfer.pk}")
    assert wallet_summary(user=sender).available == D("98000.00")
    assert balance(recipient) == D("0.00")
    assert evaluations()[-1].outcome == "review"


def test_below_the_threshold_or_to_someone_paid_before_is_posted_at_once(sender, recipient, send, make_user):
    set_rule("transfer_new_recipient_review", amount=D("2000.00"))

    below = send(sender, recipient, "1999.99")
    known = send(sender, recipient, "3000.00")

    assert (below.status, known.status) == (PeerTransfer.Status.POSTED, PeerTransfer.Status.POSTED)


def test_a_transfer_held_for_review_does_not_make_the_recipient_known(sender, recipient, send):
    first = send(sender, recipient, "2500.00")
    second = send(sender, recipient, "2500.00")

    assert (first.status, second.status) == (PeerTransfer.Status.UNDER_REVIEW, PeerTransfer.Status.UNDER_REVIEW)


def test_a_held_transfer_uses_quota_until_it_is_rejected(sender, recipient, send, staff_in):
    set_rule("transfer_daily_count", count=1)
    held = send(sender, recipient, "2500.00")
    with pytest.raises(errors.LimitExceeded):
        send(sender, recipient, "1.00")

    services.transfer_reject(transfer=held, actor=staff_in("finance_reviewer"), reason="unknown recipient")

    assert send(sender, recipient, "1.00").status == PeerTransfer.Status.POSTED


@pytest.mark.parametrize("side", ["sender", "recipient"])
def test_a_frozen_wallet_on_either_side_is_refused_with_account_frozen(sender, recipient, send, side):
    frozen = sender if side == "sender" else recipient
    ledger.account_set_status(account=ledger.account_for_user(user=frozen), status=Account.Status.FROZEN)

    with pytest.raises(errors.AccountFrozen) as refused:
        send(sender, recipient, "1.00")

    assert refused.value.fields == {"from" if side == "sender" else "to": "frozen"}
    assert not PeerTransfer.objects.exists()


@pytest.mark.parametrize(
    ("side", "rule"), [("sender", "transfer_user_blocked"), ("recipient", "transfer_counterparty_blocked")]
)
def test_a_blocklisted_user_on_either_side_is_refused_with_risk_rejected(sender, recipient, send, staff_in, side, rule):
    blocked = sender if side == "sender" else recipient
    risk_services.blocklist_add(
        kind="user", user=blocked, label=blocked.username, reason="fraud", actor=staff_in("operations")
    )

    with pytest.raises(errors.RiskRejected) as refused:
        send(sender, recipient, "1.00")

    assert refused.value.fields == {"risk_rule": rule}
    assert not PeerTransfer.objects.exists()
    assert evaluations()[-1].refusal_code == "risk_rejected"


def test_without_a_registered_guard_every_transfer_is_refused(sender, recipient, send):
    with guard_replaced(None), pytest.raises(errors.NotAvailable):
        send(sender, recipient, "1.00")

    assert not PeerTransfer.objects.exists()
    assert balance(recipient) == D("0.00")


def test_withdrawal_rules_do_not_apply_to_transfers_nor_transfer_rules_to_withdrawals(sender, recipient, send):
    # The withdrawal single maximum is 10,000.00; the transfer one 20,000.00.
    transfer = send(sender, recipient, "15000.00", key="k")

    assert transfer.status == PeerTransfer.Status.UNDER_REVIEW  # new recipient, not the withdrawal limit
    assert {hit["rule"] for hit in evaluations()[-1].hits} == {"transfer_new_recipient_review"}


def test_the_same_key_and_request_returns_the_first_transfer_and_another_request_conflicts(sender, recipient, send):
    first = send(sender, recipient, "3.00", key="again")
    second = send(sender, recipient, "3.00", key="again")

    with pytest.raises(errors.IdempotencyConflict):
        send(sender, recipient, "4.00", key="again")
    assert first.pk == second.pk
    assert PeerTransfer.objects.count() == 1 and len(evaluations()) == 1
    assert ledger_audit() == []
