"""`manage.py demo_payments` runs on every `make run` after `demo_users`: again, it changes nothing."""

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from payments.orders.models import PaymentOrder
from payments.sandbox.models import SandboxBillRule, SandboxPaymentRule
from payments.withdrawals.models import PayoutAccount, Withdrawal
from risk.models import RiskRule
from wallet.audit import ledger_audit
from wallet.models import Account

pytestmark = pytest.mark.django_db


def test_demo_payments_twice_fills_the_review_queue_and_pays_once():
    call_command("demo_users")

    call_command("demo_payments")
    call_command("demo_payments")

    statuses = sorted(Withdrawal.objects.values_list("user__username", "amount", "status"))
    assert statuses == [
        ("alice", Decimal("120.00"), "approved"),
        ("bob", Decimal("50.00"), "approved"),
        ("dave", Decimal("6000.00"), "pending"),
        ("dave", Decimal("9000.00"), "pending"),
    ]
    assert sorted(PayoutAccount.objects.values_list("user__username", "kind")) == [
        ("alice", "alipay"),
        ("alice", "bank_card"),
        ("bob", "wechat_openid"),
        ("dave", "bank_card"),
    ]
    # dave paid 35.00 from his balance once and got 5.00 of it back once
    assert list(PaymentOrder.objects.values_list("amount", "status", "refunded_amount")) == [
        (Decimal("35.00"), "success", Decimal("5.00"))
    ]
    dave = Account.objects.get(owner__username="dave")
    assert (dave.balance, dave.held) == (Decimal("29970.00"), Decimal("15000.00"))
    assert dave.owner is not None and not dave.owner.has_usable_password()
    # and the sandbox's payers wait for the cashier page, on every collecting protocol, once
    rules = sorted(SandboxPaymentRule.objects.values_list("protocol", "order_no", "scenario"))
    assert rules == [(protocol, "", "never_pay") for protocol in ("alipay", "wechat_v2", "wechat_v3")]
    assert ledger_audit() == []


def test_a_withdrawal_the_rules_refuse_today_is_reported_not_fatal(capsys):
    call_command("demo_users")
    RiskRule.objects.filter(code="staged_rollout").update(enabled=True, percent=0)

    call_command("demo_payments")

    assert "not created today: not_available" in capsys.readouterr().out
    assert not Withdrawal.objects.exists()


def test_the_demo_reconciles_today_with_one_difference_for_the_desk(sent_tasks, settings):
    settings.SANDBOX_ENABLED = True
    call_command("demo_users")

    call_command("demo_payments")
    call_command("demo_payments")

    today = timezone.localdate().isoformat()
    assert sent_tasks.named("reconciliation.nightly") == [{"args": [today], "countdown": 60}] * 2
    rules = SandboxBillRule.objects.values_list("protocol", "bill_kind", "difference", "remaining")
    assert list(rules) == [("bank", "payout", "wrong_status", 1)]
