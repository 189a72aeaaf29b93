"""Changes to controls need two people: operations and superusers propose, a second person (a
supervisor or another superuser) applies; the database keeps the history with the actor."""

from decimal import Decimal

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.urls import reverse
from django_celery_beat.models import PeriodicTask

from config.controls.models import ChangeProposal
from config.schedules import PROTECTED_TASKS
from risk import services as risk_services
from risk.kinds import Period
from risk.models import RiskRule
from risk.rules import WithdrawalFacts
from risk.tests.support import FINGERPRINT, local, rule
from risk.tests.test_admin import list_editable_post, rule_change_post

pytestmark = pytest.mark.django_db


def rule_url(risk_rule: RiskRule) -> str:
    return reverse("admin:risk_riskrule_change", args=[risk_rule.pk])


def decide(client, proposal: ChangeProposal, decision: str):
    return client.post(reverse("admin:project_changeproposal_decide", args=[proposal.pk, decision]))


@pytest.fixture
def operations(staff_in, client_for):
    user = staff_in("operations")
    return user, client_for(user)


@pytest.fixture
def supervisor(staff_in, client_for):
    user = staff_in("finance_supervisor")
    return user, client_for(user)


@pytest.fixture
def superuser(make_user, client_for):
    user = make_user(is_staff=True, is_superuser=True)
    return user, client_for(user)


def test_a_raised_threshold_is_applied_only_when_a_second_person_approves_it(operations, supervisor):
    proposer, ops_client = operations
    approver, sup_client = supervisor
    review = rule("large_amount_review")

    form = ops_client.get(rule_url(review)).content.decode()
    ops_client.post(
        rule_url(review), {**rule_change_post(review, amount="9999999.00"), "change_reason": "Fewer reviews at night"}
    )

    assert 'name="change_reason"' in form
    proposal = ChangeProposal.objects.get()
    assert (proposal.status, proposal.proposed_by, proposal.operation) == ("pending", proposer, "update")
    assert proposal.reason == "Fewer reviews at night"
    assert (proposal.before["amount"], proposal.after["amount"]) == ("5000.00", "9999999.00")
    assert rule("large_amount_review").amount == Decimal("5000.00")

    decide(ops_client, proposal, "approve")
    proposal.refresh_from_db()
    assert proposal.status == "pending"
    assert rule("large_amount_review").amount == Decimal("5000.00")

    decide(sup_client, proposal, "approve")
    proposal.refresh_from_db()
    assert (proposal.status, proposal.decided_by) == ("applied", approver)
    assert rule("large_amount_review").amount == Decimal("9999999.00")
    event = apps.get_model("project", "RiskRuleEvent").objects.filter(pgh_obj_id=review.pk, pgh_label="update").get()
    assert event.amount == Decimal("9999999.00")
    assert event.pgh_context.metadata["user"] == approver.pk
    assert event.pgh_context.metadata["proposed_by"] == proposer.pk
    assert event.pgh_context.metadata["url"].endswith(f"/{proposal.pk}/approve/")


def test_operations_switch_the_window_directly(operations):
    _, client = operations

    client.post(reverse("admin:risk_riskrule_changelist"), list_editable_post((rule("withdrawal_window"), True)))

    assert rule("withdrawal_window").enabled is True
    assert not ChangeProposal.objects.exists()


def test_a_proposal_whose_object_changed_since_is_stale_and_not_applied(operations, supervisor, superuser):
    _, ops_client = operations
    _, sup_client = supervisor
    single_max = rule("single_max")
    ops_client.post(rule_url(single_max), rule_change_post(single_max, amount="60000.00"))
    RiskRule.objects.filter(pk=single_max.pk).update(priority=single_max.priority + 1)

    decide(sup_client, ChangeProposal.objects.get(), "approve")

    assert ChangeProposal.objects.get().status == "stale"
    assert rule("single_max").amount == single_max.amount


def test_disabling_a_protected_beat_task_is_a_proposal_even_for_a_superuser(superuser, make_user, client_for):
    proposer, client = superuser
    task = PeriodicTask.objects.filter(task__in=PROTECTED_TASKS, enabled=True).first()
    assert task is not None

    client.post(
        reverse("admin:django_celery_beat_periodictask_changelist"),
        {"action": "disable_tasks", "_selected_action": [task.pk]},
    )

    task.refresh_from_db()
    assert task.enabled is True
    proposal = ChangeProposal.objects.get()
    decide(client, proposal, "approve")
    task.refresh_from_db()
    assert task.enabled is True
    second = make_user(is_staff=True, is_superuser=True)
    decide(client_for(second), proposal, "approve")
    task.refresh_from_db()
    assert task.enabled is False


def test_adding_a_user_to_a_group_is_a_proposal(superuser, supervisor, make_user):
    _, client = superuser
    _, sup_client = supervisor
    member = make_user(is_staff=True)
    group = Group.objects.get(name="finance_supervisor")
    data = {
        "username": member.username,
        "password": member.password,
        "is_active": "on",
        "is_staff": "on",
        "groups": [group.pk],
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": "2026-03-02",
        "date_joined_1": "10:00:00",
        "initial-date_joined_0": "2026-03-02",
        "initial-date_joined_1": "10:00:00",
    }

    client.post(reverse("admin:auth_user_change", args=[member.pk]), data)

    assert not member.groups.exists()
    proposal = ChangeProposal.objects.get()
    assert proposal.after["groups"] == [group.pk]
    decide(sup_client, proposal, "approve")
    assert list(member.groups.all()) == [group]


def test_the_reviewed_scenario_cannot_happen_operations_cannot_loosen_four_eyes(operations, make_user):
    _, client = operations
    four_eyes, review = rule("four_eyes"), rule("large_amount_review")

    client.post(rule_url(four_eyes), rule_change_post(four_eyes, enabled=False))
    client.post(rule_url(review), rule_change_post(review, amount="9999999.00"))

    assert ChangeProposal.objects.filter(status="pending").count() == 2
    user = make_user()
    evaluation = risk_services.withdrawal_risk_evaluate(
        facts=WithdrawalFacts(
            user_id=user.pk,
            user_active=True,
            amount=Decimal("9900.00"),
            payout_fingerprint=FINGERPRINT,
            counts=dict.fromkeys(Period, 0),
            amounts=dict.fromkeys(Period, Decimal("0.00")),
            now=local(10),
        )
    )
    assert (evaluation.outcome, evaluation.approvals_required) == ("review", 2)


def test_the_history_is_exported_with_the_actor_of_each_change(operations, supervisor):
    proposer, ops_client = operations
    approver, sup_client = supervisor
    review = rule("large_amount_review")
    ops_client.post(rule_url(review), rule_change_post(review, amount="6000.00"))
    decide(sup_client, ChangeProposal.objects.get(), "approve")

    response = sup_client.post(
        reverse("admin:pghistory_events_export"),
        {
            "format": "0",
            "resource": "0",
            "controleventresource_label": "on",
            "controleventresource_model": "on",
            "controleventresource_changes": "on",
            "controleventresource_actor": "on",
        },
    )

    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode() if response.streaming else response.content.decode()
    row = next(line for line in text.splitlines() if line.startswith("update,project.RiskRuleHistory,"))
    assert '""amount"": 6000.0' in row
    assert row.endswith(f",{approver.username}")
