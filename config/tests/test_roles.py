"""The staff roles and the product's schedules after migrate, and who may change the schedules."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.messages import get_messages
from django.urls import reverse
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from config import roles
from config.controls.models import ChangeProposal
from config.roles import ROLES, roles_apply
from config.schedules import PROTECTED_TASKS, SCHEDULES, schedules_apply

pytestmark = pytest.mark.django_db

# What only finance supervisors may do among the staff roles: a single operator could loosen a
# control with any of them.
SUPERVISOR_ONLY = {
    "risk.change_riskrule",
    "risk.change_blocklistentry",
    "payments.change_channel",
    "django_celery_beat.add_periodictask",
    "django_celery_beat.change_periodictask",
    "django_celery_beat.change_intervalschedule",
    "django_celery_beat.change_crontabschedule",
}


def granted() -> dict[str, set[str]]:
    return {
        group.name: {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}
        for group in Group.objects.prefetch_related("permissions__content_type")
    }


def test_after_migrate_every_role_holds_exactly_its_permissions():
    assert granted() == {name: set(permissions) for name, permissions in ROLES.items()}


def test_only_finance_supervisors_may_change_limits_thresholds_channels_or_schedules():
    holders = {
        codename: {name for name, perms in granted().items() if codename in perms} for codename in SUPERVISOR_ONLY
    }

    assert holders == {codename: {"finance_supervisor"} for codename in SUPERVISOR_ONLY}
    assert "risk.switch_riskrule" in granted()["operations"]
    assert "payments.switch_channel" not in granted()["operations"]


def test_only_finance_supervisors_approve_changes_to_controls_and_operations_propose_them():
    def holders(codename: str) -> set[str]:
        return {name for name, perms in granted().items() if codename in perms}

    assert holders("project.approve_changeproposal") == {"finance_supervisor"}
    assert holders("project.propose_changeproposal") == {"finance_supervisor", "operations"}
    assert {"operations", "finance_supervisor", "auditor"} <= holders("project.view_changeproposal")


def test_a_permission_granted_by_hand_is_taken_back_and_a_missing_one_given_back():
    operations = Group.objects.get(name="operations")
    operations.permissions.add(Permission.objects.get(codename="change_riskrule"))
    operations.permissions.remove(Permission.objects.get(codename="switch_riskrule"))

    roles_apply()
    roles_apply()

    assert granted()["operations"] == set(ROLES["operations"])


def test_a_role_naming_an_unknown_permission_is_refused_and_changes_nothing(monkeypatch):
    before = granted()
    monkeypatch.setitem(roles.ROLES, "operations", ROLES["operations"] | {"risk.fly_to_the_moon"})

    with pytest.raises(LookupError, match="risk.fly_to_the_moon"):
        roles_apply()

    assert granted() == before


def test_after_migrate_every_declared_schedule_is_installed_once():
    tasks = {task.name: task for task in PeriodicTask.objects.select_related("interval", "crontab")}

    for schedule in SCHEDULES:
        task = tasks[schedule.name]
        assert (task.task, task.enabled) == (schedule.task, True)
    assert tasks["Payments: close expired orders"].interval.every == 1
    assert (tasks["Nightly ledger audit"].crontab.hour, tasks["Nightly ledger audit"].crontab.minute) == ("2", "0")
    assert schedules_apply() == []


def test_a_deleted_schedule_comes_back_and_an_edited_one_is_left_as_it_is():
    PeriodicTask.objects.filter(name="Refunds: resend lost, query processing").delete()
    hourly, _ = IntervalSchedule.objects.get_or_create(every=2, period=IntervalSchedule.MINUTES)
    PeriodicTask.objects.filter(name="Payments: close expired orders").update(interval=hourly)

    assert schedules_apply() == ["Refunds: resend lost, query processing"]
    assert PeriodicTask.objects.get(name="Payments: close expired orders").interval == hourly
    assert PeriodicTask.objects.get(name="Refunds: resend lost, query processing").interval.every == 5


# The beat admin


def admin_url(model: str, view: str, *args) -> str:
    return reverse(f"admin:django_celery_beat_{model}_{view}", args=args)


def task_form(task: PeriodicTask, **changes) -> dict[str, str]:
    data = {
        "name": task.name,
        "regtask": task.task,
        "task": task.task,
        "description": task.description,
        "interval": str(task.interval_id or ""),
        "crontab": str(task.crontab_id or ""),
        "args": task.args,
        "kwargs": task.kwargs,
        "expire_seconds": "",
        "queue": "",
        "exchange": "",
        "routing_key": "",
        "priority": "",
        "headers": task.headers,
        "_save": "Save",
    }
    if task.enabled:
        data["enabled"] = "on"
    data.update(changes)
    return {name: value for name, value in data.items() if value is not None}


def sweep() -> PeriodicTask:
    return PeriodicTask.objects.get(task="payments.sweep_approved")


def action(client, name: str, tasks: list[PeriodicTask]):
    return client.post(
        admin_url("periodictask", "changelist"), {"action": name, "_selected_action": [t.pk for t in tasks]}
    )


@pytest.fixture
def supervisor(staff_in, client_for):
    return client_for(staff_in("finance_supervisor"))


def test_a_supervisor_can_neither_disable_nor_delete_nor_reschedule_a_sweep(supervisor):
    task = sweep()

    page = supervisor.get(admin_url("periodictask", "change", task.pk))
    edit = supervisor.post(admin_url("periodictask", "change", task.pk), task_form(task, enabled=None))
    delete = supervisor.post(admin_url("periodictask", "delete", task.pk), {"post": "yes"})
    interval = supervisor.post(
        admin_url("intervalschedule", "change", task.interval_id), {"every": "100000", "period": "days"}
    )
    interval_delete = supervisor.post(admin_url("intervalschedule", "delete", task.interval_id), {"post": "yes"})

    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert (edit.status_code, delete.status_code, interval.status_code, interval_delete.status_code) == (
        403,
        403,
        403,
        403,
    )
    task = sweep()
    assert (task.enabled, task.interval.every, task.interval.period) == (True, 1, "minutes")


def pending() -> list[ChangeProposal]:
    return list(ChangeProposal.objects.filter(status=ChangeProposal.Status.PENDING).order_by("pk"))


def approve(client, proposal: ChangeProposal) -> ChangeProposal:
    client.post(reverse("admin:project_changeproposal_decide", args=[proposal.pk, "approve"]))
    proposal.refresh_from_db()
    return proposal


@pytest.mark.parametrize("name", ["disable_tasks", "toggle_tasks"])
def test_the_bulk_actions_of_a_supervisor_skip_the_protected_tasks_and_propose_the_others(
    supervisor, staff_in, client_for, name
):
    crontab = CrontabSchedule.objects.create(minute="5", hour="3")
    own = PeriodicTask.objects.create(name="Supervisor's cleanup", task="celery.backend_cleanup", crontab=crontab)

    response = action(supervisor, name, [sweep(), own])

    assert sweep().enabled is True
    assert PeriodicTask.objects.get(pk=own.pk).enabled is True
    assert any("Only a superuser may disable" in str(m) for m in get_messages(response.wsgi_request))
    [proposal] = pending()
    assert (proposal.object_id, proposal.after["enabled"]) == (str(own.pk), False)
    assert approve(client_for(staff_in("finance_supervisor")), proposal).status == "applied"
    assert PeriodicTask.objects.get(pk=own.pk).enabled is False
    assert sweep().enabled is True


@pytest.mark.parametrize("group", ["operations", "auditor", "finance_reviewer"])
def test_staff_without_the_schedules_may_not_use_the_bulk_actions(staff_in, client_for, group):
    client = client_for(staff_in(group))
    Group.objects.get(name=group).permissions.add(Permission.objects.get(codename="view_periodictask"))

    page = client.get(admin_url("periodictask", "changelist"))
    action(client, "disable_tasks", [sweep()])

    assert page.status_code == 200
    assert "disable_tasks" not in page.content.decode()
    assert sweep().enabled is True


def test_a_superusers_disabling_a_sweep_waits_for_a_second_person(make_user, client_for):
    superuser = client_for(make_user(is_staff=True, is_superuser=True))

    action(superuser, "disable_tasks", [sweep()])

    assert sweep().enabled is True
    [proposal] = pending()
    assert approve(superuser, proposal).status == "pending"
    assert sweep().enabled is True
    assert approve(client_for(make_user(is_staff=True, is_superuser=True)), proposal).status == "applied"
    assert sweep().enabled is False


def test_the_sweeps_and_the_nightly_audit_are_protected():
    assert "wallet.ledger_audit_nightly" in PROTECTED_TASKS
    assert {
        "payments.sweep_approved",
        "payments.sweep_processing",
        "payments.sweep_expired_payments",
    } <= PROTECTED_TASKS
