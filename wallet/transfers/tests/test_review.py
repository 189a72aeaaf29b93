"""The review of transfers held for a new recipient: approve captures, reject releases, each
decision logged with its actor; in the services and in the admin queue."""

from decimal import Decimal

import pytest
from django.contrib.admin import helpers
from django_fsm_log.models import StateLog

from risk import services as risk_services
from wallet import errors
from wallet import services as ledger
from wallet.audit import ledger_audit
from wallet.models import Hold, PeerTransfer, Transfer
from wallet.selectors import wallet_summary
from wallet.transfers import services

pytestmark = pytest.mark.django_db

D = Decimal
CHANGELIST = "/admin/wallet/peertransfer/"


@pytest.fixture
def held(sender, recipient, send):
    transfer = send(sender, recipient, "2500.00")
    assert transfer.status == PeerTransfer.Status.UNDER_REVIEW
    return transfer


def decisions(transfer: PeerTransfer) -> list[tuple[str, str, str]]:
    logs = StateLog.objects.for_(transfer).order_by("id")
    return [(log.transition, log.by.username if log.by else "", log.description or "") for log in logs]


def test_approving_captures_the_hold_to_the_recipient_and_logs_the_reviewer(held, sender, recipient, staff_in):
    reviewer = staff_in("finance_reviewer", "rita")

    approved = services.transfer_approve(transfer=held, actor=reviewer, note="known family")

    assert approved.status == PeerTransfer.Status.POSTED
    assert Hold.objects.get(peer_transfer=held).status == "captured"
    assert wallet_summary(user=recipient).balance == D("2500.00")
    assert wallet_summary(user=sender).balance == D("97500.00")
    assert wallet_summary(user=sender).frozen == D("0.00")
    ledger_row = Transfer.objects.get(peer_transfer=approved)
    assert (ledger_row.kind, ledger_row.reference) == ("p2p", f"p2p:{held.pk}")
    assert decisions(held)[-1] == ("approve", "rita", "known family")
    assert ledger_audit() == []


def test_rejecting_releases_the_hold_and_logs_the_reason_and_reviewer(held, sender, recipient, staff_in):
    reviewer = staff_in("finance_reviewer", "rita")

    rejected = services.transfer_reject(transfer=held, actor=reviewer, reason="looks like a scam")

    assert (rejected.status, rejected.status_reason) == (PeerTransfer.Status.REJECTED, "looks like a scam")
    assert Hold.objects.get(peer_transfer=held).status == "released"
    assert wallet_summary(user=sender).available == D("100000.00")
    assert wallet_summary(user=recipient).balance == D("0.00")
    assert decisions(held)[-1] == ("reject", "rita", "looks like a scam")


def test_a_rejection_needs_a_reason(held, staff_in):
    with pytest.raises(errors.ValidationFailed) as refused:
        services.transfer_reject(transfer=held, actor=staff_in("finance_reviewer"), reason="  ")

    assert refused.value.fields == {"reason": "required"}
    held.refresh_from_db()
    assert held.status == PeerTransfer.Status.UNDER_REVIEW


def test_a_decided_transfer_cannot_be_decided_again(held, staff_in):
    reviewer = staff_in("finance_reviewer")
    services.transfer_approve(transfer=held, actor=reviewer)

    with pytest.raises(errors.Conflict):
        services.transfer_reject(transfer=held, actor=reviewer, reason="too late")
    with pytest.raises(errors.Conflict):
        services.transfer_approve(transfer=held, actor=reviewer)
    assert wallet_summary(user=held.recipient).balance == D("2500.00")


@pytest.mark.parametrize("role", ["operations", "auditor"])
def test_staff_without_the_review_permission_cannot_decide(held, staff_in, role):
    with pytest.raises(errors.PermissionDenied):
        services.transfer_approve(transfer=held, actor=staff_in(role))

    held.refresh_from_db()
    assert held.status == PeerTransfer.Status.UNDER_REVIEW


def test_the_sender_sees_under_review_and_the_recipient_sees_nothing_until_approved(
    held, sender, recipient, api_client_for, staff_in
):
    mine = api_client_for(sender).get(f"/api/v1/transfers/{held.pk}/")
    theirs = api_client_for(recipient).get(f"/api/v1/transfers/{held.pk}/")

    assert mine.status_code == 200
    assert (mine.json()["status"], mine.json()["entries"]) == ("under_review", [])
    assert theirs.status_code == 404

    services.transfer_approve(transfer=held, actor=staff_in("finance_reviewer"))

    received = api_client_for(recipient).get(f"/api/v1/transfers/{held.pk}/").json()
    assert (received["status"], received["direction"], received["counterparty"]) == ("posted", "received", "sender")


def test_the_admin_queue_opens_on_transfers_under_review(held, sender, recipient, send, staff_in, client_for):
    posted = send(sender, recipient, "1.00")

    page = client_for(staff_in("finance_reviewer")).get(CHANGELIST)

    assert page.status_code == 200
    shown = [row.pk for row in page.context["cl"].result_list]
    assert shown == [held.pk] and posted.pk not in shown


def test_the_admin_approve_action_pays_the_recipient(held, recipient, staff_in, client_for):
    response = client_for(staff_in("finance_reviewer")).post(
        CHANGELIST, {"action": "approve_selected", helpers.ACTION_CHECKBOX_NAME: [held.pk]}, follow=True
    )

    assert response.status_code == 200
    assert "1 transfer(s) approved" in response.content.decode()
    assert wallet_summary(user=recipient).balance == D("2500.00")


def test_the_admin_reject_action_asks_for_a_reason_then_releases(held, sender, staff_in, client_for):
    client = client_for(staff_in("finance_reviewer", "rita"))
    ticked = {"action": "reject_selected", helpers.ACTION_CHECKBOX_NAME: [held.pk]}

    asked = client.post(CHANGELIST, ticked)
    done = client.post(CHANGELIST, {**ticked, "apply": "Reject", "reason": "no such friend"}, follow=True)

    assert asked.status_code == 200 and b"reason-form" in asked.content
    assert "1 transfer(s) rejected" in done.content.decode()
    held.refresh_from_db()
    assert (held.status, held.status_reason) == ("rejected", "no such friend")
    assert decisions(held)[-1] == ("reject", "rita", "no such friend")


def test_the_admin_shows_a_refused_decision_by_name(held, staff_in, client_for):
    reviewer = staff_in("finance_reviewer")
    services.transfer_reject(transfer=held, actor=reviewer, reason="no")

    response = client_for(reviewer).post(
        CHANGELIST + "?status=all",
        {"action": "approve_selected", helpers.ACTION_CHECKBOX_NAME: [held.pk]},
        follow=True,
    )

    shown = [str(message) for message in response.context["messages"]]
    assert shown == [f"transfer #{held.pk}: This transfer is rejected: it is no longer under review."]


def test_an_auditor_sees_the_queue_but_has_no_decision_actions(held, staff_in, client_for):
    page = client_for(staff_in("auditor")).get(CHANGELIST)

    assert page.status_code == 200
    assert b"approve_selected" not in page.content


@pytest.mark.parametrize(
    ("side", "rule"), [("sender", "transfer_user_blocked"), ("recipient", "transfer_counterparty_blocked")]
)
def test_a_party_blocklisted_after_sending_cannot_be_approved_only_rejected(held, staff_in, side, rule):
    blocked = held.sender if side == "sender" else held.recipient
    risk_services.blocklist_add(
        kind="user", user=blocked, label=blocked.username, reason="fraud", actor=staff_in("operations")
    )
    reviewer = staff_in("finance_reviewer")

    with pytest.raises(errors.RiskRejected) as refused:
        services.transfer_approve(transfer=held, actor=reviewer)
    services.transfer_reject(transfer=held, actor=reviewer, reason="blocked")

    assert refused.value.fields == {"risk_rule": rule}
    assert Hold.objects.get(peer_transfer=held).status == "released"


def test_a_frozen_recipient_cannot_be_approved(held, staff_in):
    ledger.account_set_status(account=ledger.account_for_user(user=held.recipient), status="frozen")

    with pytest.raises(errors.AccountFrozen):
        services.transfer_approve(transfer=held, actor=staff_in("finance_reviewer"))

    assert Hold.objects.get(peer_transfer=held).status == "pending"


def test_a_recipient_closed_after_sending_cannot_be_approved_only_rejected(held, staff_in):
    held.recipient.is_active = False
    held.recipient.save(update_fields=["is_active"])
    reviewer = staff_in("finance_reviewer")

    with pytest.raises(errors.ValidationFailed) as refused:
        services.transfer_approve(transfer=held, actor=reviewer)
    assert Hold.objects.get(peer_transfer=held).status == "pending"
    services.transfer_reject(transfer=held, actor=reviewer, reason="account closed")

    assert refused.value.fields == {"to": "inactive"}
    assert Hold.objects.get(peer_transfer=held).status == "released"
