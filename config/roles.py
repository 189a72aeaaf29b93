"""The staff roles and what each may do: the one matrix the database's groups are kept equal to.

``roles_apply`` runs after every ``migrate`` (config.apps): it creates the groups, gives each
exactly the permissions listed here and takes away any other, so a permission granted by hand
in the admin does not outlive the next deploy. Who may change which control is explained in
docs/WITHDRAWALS.md ("Who may change what").
"""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission
from django.db import transaction

LEDGER_VIEW = {"wallet.view_account", "wallet.view_transfer", "wallet.view_entry", "wallet.view_hold"}
# Red packets are ledger money in escrow: whoever sees the ledger sees them (read-only).
LEDGER_VIEW |= {"wallet.view_redpacket", "wallet.view_redpacketshare", "wallet.view_redpackettransition"}
RISK_VIEW = {"risk.view_riskrule", "risk.view_riskevaluation", "risk.view_blocklistentry"}
WITHDRAWAL_REVIEW = {
    "payments.view_withdrawal",
    "payments.approve_withdrawal",
    "payments.view_payoutaccount",
    "payments.view_withdrawaltransition",
    "payments.view_channel",
}
PAYMENTS_VIEW = {
    "payments.view_paymentorder",
    "payments.view_paymentevent",
    "payments.view_paymenttransition",
    "payments.view_refund",
    "payments.view_refundtransition",
    "payments.view_usernotification",
    "payments.view_webhookevent",
    "payments.view_webhookattempt",
    "payments.view_webhookeventtransition",
    "payments.view_merchant",
}
RECONCILIATION_VIEW = {
    "reconciliation.view_billfile",
    "reconciliation.view_run",
    "reconciliation.view_feebooking",
    "reconciliation.view_poolitem",
    "reconciliation.view_discrepancy",
    "reconciliation.view_discrepancytransition",
}
# Work the discrepancy desk: take, re-query, propose, ignore; upload a bill; re-run a failed run.
RECONCILIATION_WORK = {"reconciliation.work_discrepancy", "reconciliation.add_billfile", "reconciliation.rerun_run"}
# Campaigns (docs/WALLET.md, "Campaign income"): their budgets and rewards.
CAMPAIGNS_VIEW = {"wallet.view_campaign", "wallet.view_reward"}
CAMPAIGNS_KEEP = {"wallet.add_campaign", "wallet.change_campaign"}
SCHEDULE_MODELS = ("periodictask", "crontabschedule", "intervalschedule", "clockedschedule", "solarschedule")
SCHEDULES_VIEW = {f"django_celery_beat.view_{model}" for model in SCHEDULE_MODELS}
SCHEDULES_KEEP = {f"django_celery_beat.{action}_{model}" for model in SCHEDULE_MODELS for action in ("add", "change")}

ROLES: dict[str, frozenset[str]] = {
    "finance_reviewer": frozenset(
        LEDGER_VIEW
        | WITHDRAWAL_REVIEW
        | PAYMENTS_VIEW
        | RISK_VIEW
        | RECONCILIATION_VIEW
        | RECONCILIATION_WORK
        | CAMPAIGNS_VIEW
    ),
    # One of the two approvers of a four-eyes withdrawal, and the owner of limits, thresholds,
    # rules, channel settings, blocklist removals and the beat schedules; the second person of a
    # reconciliation step that moves money.
    "finance_supervisor": frozenset(
        LEDGER_VIEW
        | WITHDRAWAL_REVIEW
        | PAYMENTS_VIEW
        | RISK_VIEW
        | RECONCILIATION_VIEW
        | RECONCILIATION_WORK
        | CAMPAIGNS_VIEW
        | SCHEDULES_VIEW
        | SCHEDULES_KEEP
        | {
            "reconciliation.approve_discrepancy",
            "risk.change_riskrule",
            "risk.add_blocklistentry",
            "risk.change_blocklistentry",
            "payments.change_channel",
            "payments.add_merchant",
            "payments.change_merchant",
        }
    ),
    "auditor": frozenset(
        LEDGER_VIEW
        | CAMPAIGNS_VIEW
        | RISK_VIEW
        | PAYMENTS_VIEW
        | RECONCILIATION_VIEW
        | {
            "reconciliation.export_run",
            "reconciliation.export_discrepancy",
            "reconciliation.export_discrepancytransition",
            "wallet.export_transfer",
            "wallet.export_entry",
            "wallet.export_redpackettransition",
            "wallet.view_exportjob",
            "payments.view_withdrawal",
            "payments.export_withdrawal",
            "payments.view_withdrawaltransition",
            "payments.export_withdrawaltransition",
            "payments.view_payoutaccount",
            "payments.view_channel",
            "payments.view_deadletter",
            "payments.export_paymentorder",
            "payments.export_paymentevent",
            "payments.export_paymenttransition",
            "payments.export_refund",
            "payments.export_refundtransition",
        }
    ),
    # Switches (the window, the staged rollout, a channel on or off), dead letters, re-queries,
    # and blocking; never limits, thresholds, other rules or schedules.
    "operations": frozenset(
        RISK_VIEW
        | PAYMENTS_VIEW
        | SCHEDULES_VIEW
        | {
            "reconciliation.view_run",
            "reconciliation.rerun_run",
            "wallet.view_account",
            "risk.switch_riskrule",
            "risk.add_blocklistentry",
            "payments.view_channel",
            "payments.switch_channel",
            "payments.view_payoutaccount",
            "payments.view_withdrawal",
            "payments.view_deadletter",
            "payments.retry_deadletter",
            "payments.sync_paymentorder",
            "payments.sync_refund",
            "payments.resend_webhookevent",
        }
    ),
    # Opens, changes, pauses and ends campaigns; sees what each paid out against its budget.
    "campaign_manager": frozenset(LEDGER_VIEW | CAMPAIGNS_VIEW | CAMPAIGNS_KEEP),
    # Not staff: the service accounts of the platform's business systems (red packet rain,
    # card collecting...) that pay users rewards through POST /api/v1/campaign/rewards/.
    "reward_service": frozenset({"wallet.credit_reward"}),
}


@transaction.atomic
def roles_apply(*, using: str = "default") -> None:
    """Make every role's group hold exactly its permissions in ``ROLES``."""
    for app_config in global_apps.get_app_configs():
        create_permissions(app_config, verbosity=0, using=using)
    wanted = set().union(*ROLES.values())
    found = {
        f"{permission.content_type.app_label}.{permission.codename}": permission
        for permission in Permission.objects.using(using).select_related("content_type")
    }
    missing = sorted(wanted - set(found))
    if missing:
        raise LookupError(f"The roles name permissions that do not exist: {', '.join(missing)}")
    for name, permissions in ROLES.items():
        group, _ = Group.objects.using(using).get_or_create(name=name)
        group.permissions.set([found[codename] for codename in sorted(permissions)])


# User-to-user transfers (docs/WALLET.md): reviewers and supervisors decide the transfers held
# for review and revoke receive codes, operations revoke codes, auditors read both.
TRANSFERS_VIEW = frozenset({"wallet.view_peertransfer", "wallet.view_receivecode"})
TRANSFERS_REVIEW = TRANSFERS_VIEW | {"wallet.review_peertransfer", "wallet.revoke_receivecode"}
ROLES["finance_reviewer"] |= TRANSFERS_REVIEW
ROLES["finance_supervisor"] |= TRANSFERS_REVIEW
ROLES["operations"] |= TRANSFERS_VIEW | {"wallet.revoke_receivecode"}
ROLES["auditor"] |= TRANSFERS_VIEW

# Staff sign-in (docs/OPERATIONS.md, "Staff sign-in"): auditors and supervisors read the failed
# and locked sign-ins; a supervisor unlocks one by deleting its attempt row. Authenticator
# devices are a superuser's alone, so no role holds their permissions.
SIGN_IN_VIEW = frozenset({"axes.view_accessattempt", "axes.view_accesslog", "axes.view_accessfailurelog"})
ROLES["auditor"] |= SIGN_IN_VIEW
ROLES["finance_supervisor"] |= SIGN_IN_VIEW | {"axes.delete_accessattempt"}
# The roles that only read: their second factor is their choice; every other staff member,
# superusers included, signs in with one (config.staff_access.policy).
TWO_FACTOR_OPTIONAL_ROLES = frozenset({"auditor"})
# Changes to controls (docs/OPERATIONS.md, "Changes to controls"): operations and supervisors
# propose, a supervisor other than the author approves; auditors read the proposals. Operations
# keep only the window and rollout switches (risk.switch_riskrule) as direct changes. The
# database's history of the controls (pghistory's events) is read and exported with them.
PROPOSALS_VIEW = frozenset({"project.view_changeproposal", "pghistory.view_events", "project.export_changeproposal"})
ROLES["finance_supervisor"] |= PROPOSALS_VIEW | {"project.propose_changeproposal", "project.approve_changeproposal"}
ROLES["operations"] = (
    (ROLES["operations"] - {"payments.switch_channel"}) | PROPOSALS_VIEW | {"project.propose_changeproposal"}
)
ROLES["auditor"] |= PROPOSALS_VIEW
