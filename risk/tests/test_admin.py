"""The risk admin: operations flip the window and the rollout at once; every other change to a
rule or the blocklist is a proposal that a finance supervisor other than its author applies
(config.controls); evaluations are read-only."""

from decimal import Decimal

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.messages import get_messages
from django.urls import reverse

from config.controls.models import ChangeProposal
from risk import services
from risk.models import BlocklistEntry, RiskEvaluation, RiskRule
from risk.tests.support import FINGERPRINT, rule

pytestmark = pytest.mark.django_db


def url(model, view: str, *args) -> str:
    return reverse(f"admin:risk_{model._meta.model_name}_{view}", args=args)


def list_editable_post(*rules_enabled: tuple[RiskRule, bool]) -> dict[str, str]:
    """The changelist form as the browser posts it for the given rows."""
    data = {
        "form-TOTAL_FORMS": str(len(rules_enabled)),
        "form-INITIAL_FORMS": str(len(rules_enabled)),
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000",
        "_save": "Save",
    }
    for index, (risk_rule, enabled) in enumerate(rules_enabled):
        data[f"form-{index}-id"] = str(risk_rule.pk)
        if enabled:
            data[f"form-{index}-enabled"] = "on"
    return data


def rule_change_post(risk_rule: RiskRule, **changes) -> dict[str, str]:
    """The change form of a rule as the browser posts it, with ``changes`` applied."""
    values = {
        "enabled": risk_rule.enabled,
        "action": risk_rule.action,
        "priority": risk_rule.priority,
        "amount": risk_rule.amount,
        "count": risk_rule.count,
        "period": risk_rule.period,
        "closed_from": risk_rule.closed_from,
        "closed_until": risk_rule.closed_until,
        "percent": risk_rule.percent,
        "message": risk_rule.message,
        **changes,
    }
    data = {name: "" if value is None else str(value) for name, value in values.items() if name != "enabled"}
    if values["enabled"]:
        data["enabled"] = "on"
    return data


@pytest.fixture
def operations(staff_in, client_for):
    user = staff_in("operations")
    return user, client_for(user)


@pytest.fixture
def supervisor(staff_in, client_for):
    user = staff_in("finance_supervisor")
    return user, client_for(user)


@pytest.fixture
def approver(staff_in, client_for):
    """A second finance supervisor, who applies the others' proposals."""
    user = staff_in("finance_supervisor")
    return user, client_for(user)


def pending() -> list[ChangeProposal]:
    return list(ChangeProposal.objects.filter(status=ChangeProposal.Status.PENDING).order_by("pk"))


def approve(client, proposal: ChangeProposal) -> ChangeProposal:
    client.post(reverse("admin:project_changeproposal_decide", args=[proposal.pk, "approve"]))
    proposal.refresh_from_db()
    return proposal


# Rules


def test_operations_switch_the_window_on_from_the_rule_list(operations):
    _, client = operations
    window = rule("withdrawal_window")

    response = client.post(url(RiskRule, "changelist"), list_editable_post((window, True)))

    assert response.status_code == 302
    window.refresh_from_db()
    assert window.enabled is True
    assert rule("staged_rollout").enabled is False


def test_a_supervisor_switching_a_limit_off_in_the_list_waits_for_a_second_supervisor(supervisor, approver):
    proposer, client = supervisor

    response = client.post(url(RiskRule, "changelist"), list_editable_post((rule("hourly_count"), False)))

    assert rule("hourly_count").enabled is True
    said = [str(message) for message in get_messages(response.wsgi_request)]
    assert len(said) == 1 and said[0].startswith("Proposed: ")
    assert not LogEntry.objects.filter(object_id=str(rule("hourly_count").pk)).exists()
    [proposal] = pending()
    assert (proposal.proposed_by, proposal.object_id, proposal.after["enabled"]) == (
        proposer,
        str(rule("hourly_count").pk),
        False,
    )
    assert approve(client, proposal).status == "pending"
    assert rule("hourly_count").enabled is True
    assert approve(approver[1], proposal).status == "applied"
    assert rule("hourly_count").enabled is False


def test_operations_switching_off_a_limit_or_four_eyes_in_the_list_only_proposes_it(operations):
    staff, client = operations

    client.post(
        url(RiskRule, "changelist"),
        list_editable_post((rule("four_eyes"), False), (rule("hourly_count"), False), (rule("staged_rollout"), True)),
    )

    assert (rule("four_eyes").enabled, rule("hourly_count").enabled) == (True, True)
    assert rule("staged_rollout").enabled is True
    assert {(p.object_repr, p.proposed_by, p.after["enabled"]) for p in pending()} == {
        (str(rule("four_eyes")), staff, False),
        (str(rule("hourly_count")), staff, False),
    }


@pytest.mark.parametrize(
    ("code", "changes"),
    [
        ("four_eyes", {"enabled": False}),
        ("large_amount_review", {"amount": "9999999.00"}),
        ("single_max", {"amount": "9999999.00"}),
        ("daily_count", {"count": "500"}),
    ],
    ids=["disable-four-eyes", "raise-review-threshold", "raise-single-max", "raise-daily-count"],
)
def test_operations_loosening_a_limit_or_a_threshold_in_the_change_form_only_proposes_it(
    operations, approver, code, changes
):
    staff, client = operations
    before = rule(code)

    response = client.post(url(RiskRule, "change", before.pk), rule_change_post(before, **changes))

    assert response.status_code == 302
    after = rule(code)
    assert (after.enabled, after.amount, after.count) == (before.enabled, before.amount, before.count)
    [proposal] = pending()
    assert proposal.proposed_by == staff
    assert {name: str(proposal.after[name]) for name in changes} == {
        name: str(value) for name, value in changes.items()
    }
    assert approve(client, proposal).status == "pending"
    assert rule(code).amount == before.amount


def test_operations_set_the_rollout_percentage_directly_but_propose_anything_else_of_it(operations):
    staff, client = operations
    rollout = rule("staged_rollout")

    direct = client.post(url(RiskRule, "change", rollout.pk), rule_change_post(rollout, percent="30", enabled=True))
    switched = rule("staged_rollout")
    mixed = client.post(
        url(RiskRule, "change", rollout.pk),
        rule_change_post(switched, percent="40", priority="99", message="changed"),
    )

    assert (direct.status_code, mixed.status_code) == (302, 302)
    after = rule("staged_rollout")
    assert (after.percent, after.enabled, after.priority, after.message) == (
        30,
        True,
        rollout.priority,
        rollout.message,
    )
    [proposal] = pending()
    assert (proposal.proposed_by, proposal.after["percent"], proposal.after["priority"]) == (staff, 40, 99)


def test_a_supervisor_raises_a_threshold_in_the_change_form_and_a_second_supervisor_applies_it(supervisor, approver):
    _, client = supervisor
    review = rule("large_amount_review")

    response = client.post(url(RiskRule, "change", review.pk), rule_change_post(review, amount="6000.00"))

    assert response.status_code == 302
    assert rule("large_amount_review").amount == Decimal("5000.00")
    [proposal] = pending()
    assert approve(client, proposal).status == "pending"
    assert approve(approver[1], proposal).status == "applied"
    assert rule("large_amount_review").amount == Decimal("6000.00")


def test_the_rule_list_shows_each_rule_with_its_parameters(operations):
    _, client = operations

    page = client.get(url(RiskRule, "changelist")).content.decode()

    for text in (
        "withdrawal_window",
        "closed 19:00-01:00",
        "at most 3 per rolling hour",
        "at most 50000.00 per calendar day",
        "10000.00",
        "100 %",
    ):
        assert text in page
    assert 'name="form-0-enabled"' in page


def test_a_finance_reviewer_sees_the_rules_but_cannot_switch_them(staff_in, client_for):
    client = client_for(staff_in("finance_reviewer"))
    window = rule("withdrawal_window")

    page = client.get(url(RiskRule, "changelist"))
    client.post(url(RiskRule, "changelist"), list_editable_post((window, True)))

    assert page.status_code == 200
    assert 'name="form-0-enabled"' not in page.content.decode()
    assert rule("withdrawal_window").enabled is False


def test_operations_move_the_window_in_the_change_form(operations):
    _, client = operations
    window = rule("withdrawal_window")

    response = client.post(url(RiskRule, "change", window.pk), rule_change_post(window, closed_from="18:00"))

    assert response.status_code == 302
    assert str(rule("withdrawal_window").closed_from) == "18:00:00"


@pytest.mark.parametrize(
    ("code", "changes", "field"),
    [
        ("daily_count", {"period": ""}, "period"),
        ("staged_rollout", {"percent": "101"}, "percent"),
        ("single_max", {"count": "3"}, "count"),
        ("withdrawal_window", {"closed_from": "01:00"}, "closed_until"),
        ("four_eyes", {"action": "reject"}, "action"),
    ],
    ids=["count-without-period", "percent-101", "foreign-parameter", "empty-window", "four-eyes-rejecting"],
)
def test_the_change_form_refuses_parameters_that_do_not_fit_the_kind(supervisor, code, changes, field):
    _, client = supervisor
    before = rule(code)

    response = client.post(url(RiskRule, "change", before.pk), rule_change_post(before, **changes))

    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    after = rule(code)
    assert (after.period, after.percent, after.count, after.closed_from, after.action) == (
        before.period,
        before.percent,
        before.count,
        before.closed_from,
        before.action,
    )


def test_the_code_and_kind_of_a_rule_cannot_be_changed(supervisor):
    _, client = supervisor
    single_max = rule("single_max")

    client.post(
        url(RiskRule, "change", single_max.pk),
        {**rule_change_post(single_max), "code": "renamed", "kind": "amount_min"},
    )

    assert (rule("single_max").kind, RiskRule.objects.filter(code="renamed").exists()) == ("amount_max", False)


def test_nobody_deletes_rules_and_only_superusers_add_them(operations, make_user, client_for):
    _, client = operations
    superuser = client_for(make_user(is_staff=True, is_superuser=True))
    single_max = rule("single_max")

    assert client.get(url(RiskRule, "add")).status_code == 403
    assert superuser.get(url(RiskRule, "add")).status_code == 200
    assert superuser.post(url(RiskRule, "delete", single_max.pk), {"post": "yes"}).status_code == 403
    assert RiskRule.objects.filter(pk=single_max.pk).exists()


# Evaluations


def test_evaluations_are_listed_with_outcome_and_reasons_and_cannot_be_changed(evaluate, make_user, client_for):
    evaluation = evaluate("9000.00")
    superuser = client_for(make_user(is_staff=True, is_superuser=True))

    listing = superuser.get(url(RiskEvaluation, "changelist"))
    detail = superuser.get(url(RiskEvaluation, "change", evaluation.pk))

    assert listing.status_code == 200
    assert "Withdrawals above 5,000.00 are reviewed by finance staff." in listing.content.decode()
    assert url(RiskEvaluation, "add") not in listing.content.decode()
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()
    assert superuser.get(url(RiskEvaluation, "add")).status_code == 403
    assert superuser.post(url(RiskEvaluation, "change", evaluation.pk), {"outcome": "allow"}).status_code == 403
    assert superuser.post(url(RiskEvaluation, "delete", evaluation.pk), {"post": "yes"}).status_code == 403
    assert RiskEvaluation.objects.get(pk=evaluation.pk).outcome == "review"


@pytest.mark.parametrize("group", ["operations", "finance_reviewer", "finance_supervisor", "auditor"])
def test_every_staff_group_may_read_evaluations(evaluate, staff_in, client_for, group):
    evaluation = evaluate("0.50")
    client = client_for(staff_in(group))

    assert client.get(url(RiskEvaluation, "changelist")).status_code == 200
    assert client.get(url(RiskEvaluation, "change", evaluation.pk)).status_code == 200


# Blocklist


def test_operations_propose_to_block_a_user_by_username_and_are_recorded_as_its_creator(
    operations, approver, make_user, evaluate
):
    staff, client = operations
    mallory = make_user("mallory")

    response = client.post(url(BlocklistEntry, "add"), {"user": "mallory", "reason": "stolen card"})

    assert response.status_code == 302
    assert not BlocklistEntry.objects.exists()
    [proposal] = pending()
    assert (proposal.operation, proposal.proposed_by) == ("create", staff)
    assert approve(approver[1], proposal).status == "applied"
    entry = BlocklistEntry.objects.get()
    assert (entry.kind, entry.user, entry.label, entry.reason) == ("user", mallory, "mallory", "stolen card")
    assert (entry.created_by, entry.active) == (staff, True)
    assert evaluate(user=mallory).refusal_code == "risk_rejected"


def test_blocking_an_already_blocked_user_in_the_admin_keeps_the_first_entry(operations, make_user):
    staff, client = operations
    mallory = make_user("mallory")
    first = services.blocklist_add(kind="user", user=mallory, label="mallory", reason="first", actor=staff)

    client.post(url(BlocklistEntry, "add"), {"user": "mallory", "reason": "second"})

    assert list(BlocklistEntry.objects.values_list("pk", "reason")) == [(first.pk, "first")]


def test_the_add_form_refuses_an_unknown_username(operations):
    _, client = operations

    response = client.post(url(BlocklistEntry, "add"), {"user": "nobody", "reason": "fraud"})

    assert response.status_code == 200
    assert "No user with this username." in response.content.decode()
    assert not BlocklistEntry.objects.exists()


def test_supervisors_propose_removals_with_the_action_and_are_recorded_as_remover(supervisor, approver, make_user):
    staff, client = supervisor
    creator = make_user(is_staff=True)
    entry = services.blocklist_add(
        kind="payout_account", fingerprint=FINGERPRINT, label="ICBC ****1234", reason="fraud", actor=creator
    )

    response = client.post(
        url(BlocklistEntry, "changelist"), {"action": "remove_from_blocklist", "_selected_action": [str(entry.pk)]}
    )

    assert response.status_code == 302
    entry.refresh_from_db()
    assert entry.active is True
    [proposal] = pending()
    proposal = approve(approver[1], proposal)
    assert proposal.status == "applied"
    entry.refresh_from_db()
    assert (entry.active, entry.removed_by, entry.created_by) == (False, staff, creator)
    assert entry.removed_at == proposal.decided_at


def test_blocklist_entries_are_never_edited_or_deleted_in_the_admin(operations, make_user):
    staff, client = operations
    entry = services.blocklist_add(kind="user", user=make_user(), label="eve", reason="fraud", actor=staff)

    page = client.get(url(BlocklistEntry, "change", entry.pk))
    client.post(url(BlocklistEntry, "change", entry.pk), {"reason": "edited"})
    delete = client.post(url(BlocklistEntry, "delete", entry.pk), {"post": "yes"})

    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert delete.status_code == 403
    entry.refresh_from_db()
    assert (entry.reason, entry.active) == ("fraud", True)


def test_a_finance_reviewer_sees_the_blocklist_but_can_neither_add_nor_remove(staff_in, client_for, make_user):
    client = client_for(staff_in("finance_reviewer"))
    entry = services.blocklist_add(
        kind="user", user=make_user(), label="eve", reason="fraud", actor=make_user(is_staff=True)
    )

    listing = client.get(url(BlocklistEntry, "changelist"))
    client.post(
        url(BlocklistEntry, "changelist"), {"action": "remove_from_blocklist", "_selected_action": [str(entry.pk)]}
    )

    assert listing.status_code == 200
    assert "remove_from_blocklist" not in listing.content.decode()
    assert client.get(url(BlocklistEntry, "add")).status_code == 403
    entry.refresh_from_db()
    assert entry.active is True


def test_operations_removing_a_block_only_proposes_it_until_a_supervisor_applies_it(operations, approver, make_user):
    staff, client = operations
    entry = services.blocklist_add(kind="user", user=make_user(), label="eve", reason="fraud", actor=staff)

    client.post(
        url(BlocklistEntry, "changelist"), {"action": "remove_from_blocklist", "_selected_action": [str(entry.pk)]}
    )

    entry.refresh_from_db()
    assert entry.active is True
    [proposal] = pending()
    assert approve(client, proposal).status == "pending"
    assert approve(approver[1], proposal).status == "applied"
    entry.refresh_from_db()
    assert (entry.active, entry.removed_by) == (False, staff)
