"""What the payments data migrations leave behind: channels at the business defaults, and each
staff group's share of the payments permissions (after migrate: config.roles)."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group

from payments.channels.models import Channel

pytestmark = pytest.mark.django_db

REVIEW = {
    "view_withdrawal",
    "approve_withdrawal",
    "view_payoutaccount",
    "view_withdrawaltransition",
    "view_channel",
}
EXPECTED = {
    "finance_reviewer": REVIEW,
    "finance_supervisor": REVIEW,
    "auditor": {
        "view_withdrawal",
        "export_withdrawal",
        "view_withdrawaltransition",
        "export_withdrawaltransition",
        "view_payoutaccount",
        "view_channel",
    },
    # A channel's switch is a change to a control like any other: operations propose it, a
    # supervisor applies it (docs/OPERATIONS.md, "Changes to controls").
    "operations": {
        "view_channel",
        "view_payoutaccount",
        "view_withdrawal",
        "view_deadletter",
        "retry_deadletter",
        "view_usernotification",
    },
}
EXPECTED["finance_reviewer"] = REVIEW | {"view_usernotification"}
# Fees, limits, rate and routing of a channel are the supervisors' to propose and approve.
EXPECTED["finance_supervisor"] = REVIEW | {"view_usernotification", "change_channel"}
EXPECTED["auditor"] |= {"view_usernotification", "view_deadletter"}
# Payment orders, refunds, their events and transition logs (migration 0011).
PAYMENT_MODELS = ["paymentorder", "refund", "paymentevent", "paymenttransition", "refundtransition"]
PAYMENT_VIEW = {f"view_{model}" for model in PAYMENT_MODELS}
for group in ("finance_reviewer", "finance_supervisor", "operations", "auditor"):
    EXPECTED[group] |= PAYMENT_VIEW
EXPECTED["operations"] |= {"sync_paymentorder", "sync_refund"}
EXPECTED["auditor"] |= {f"export_{model}" for model in PAYMENT_MODELS}
# Webhooks to merchants (docs/WEBHOOKS.md): everyone who sees payments sees them; operations resend.
WEBHOOK_VIEW = {"view_webhookevent", "view_webhookattempt", "view_webhookeventtransition"}
for group in ("finance_reviewer", "finance_supervisor", "operations", "auditor"):
    EXPECTED[group] |= WEBHOOK_VIEW
EXPECTED["operations"] |= {"resend_webhookevent"}
# Merchants: everyone with payments access views them, finance supervisors create and change them.
for group in ("finance_reviewer", "finance_supervisor", "operations", "auditor"):
    EXPECTED[group] |= {"view_merchant"}
EXPECTED["finance_supervisor"] |= {"add_merchant", "change_merchant"}


def test_each_group_has_exactly_its_payments_permissions():
    granted = {
        group.name: set(group.permissions.filter(content_type__app_label="payments").values_list("codename", flat=True))
        for group in Group.objects.filter(name__in=EXPECTED)
    }

    assert granted == EXPECTED


def test_only_finance_staff_approve_and_only_auditors_export():
    approvers = {g.name for g in Group.objects.filter(permissions__codename="approve_withdrawal")}
    exporters = {g.name for g in Group.objects.filter(permissions__codename__startswith="export_withdrawal")}

    assert approvers == {"finance_reviewer", "finance_supervisor"}
    assert exporters == {"auditor"}


def test_payout_channels_start_at_the_business_defaults():
    channels = {
        channel.code: (
            channel.adapter,
            channel.payout_account_kind,
            channel.fee_rate,
            channel.fee_min,
            channel.fee_max,
            channel.rate_limit_per_second,
            channel.enabled,
        )
        for channel in Channel.objects.exclude(payout_account_kind="")
    }

    fees = (Decimal("0.001"), Decimal("0.10"), Decimal("5.00"), 50)
    assert channels == {
        "wechat": ("wechat_v3", "wechat_openid", *fees, True),
        "bank": ("bank", "bank_card", *fees, True),
        "wechat_v2": ("wechat_v2", "wechat_openid", *fees, False),
        "alipay_transfer": ("alipay", "alipay", *fees, True),
    }


def test_collection_channels_start_at_their_methods_and_fees():
    channels = {
        channel.code: (channel.adapter, sorted(channel.payment_methods), channel.fee_rate, channel.enabled)
        for channel in Channel.objects.exclude(payment_methods=[])
    }

    wechat = sorted(["wechat_jsapi", "wechat_app", "wechat_h5", "wechat_native"])
    alipay = sorted(["alipay_app", "alipay_page", "alipay_wap"])
    assert channels == {
        "wechat_pay": ("wechat_v3", wechat, Decimal("0.006"), True),
        "wechat_v2_pay": ("wechat_v2", wechat, Decimal("0.006"), False),
        "alipay": ("alipay", alipay, Decimal("0.006"), True),
    }
    assert not Channel.objects.filter(payment_methods=[], payout_account_kind="").exists()
