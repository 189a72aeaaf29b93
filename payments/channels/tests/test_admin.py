"""Channel settings in the admin: every change, switching a channel on or off too, is a proposal
a finance supervisor other than its author applies (config.controls); nobody deletes one."""

from decimal import Decimal

import pytest
from django.urls import reverse

from config.controls.models import ChangeProposal
from payments.channels import services
from payments.channels.models import Channel
from wallet.errors import PermissionDenied as PermissionDeniedError

pytestmark = pytest.mark.django_db

D = Decimal


def url(model: str, view: str, *args) -> str:
    return reverse(f"admin:payments_{model}_{view}", args=args)


@pytest.fixture
def superuser(make_user):
    return make_user("root", is_staff=True, is_superuser=True)


def approve(client, proposal: ChangeProposal) -> ChangeProposal:
    client.post(reverse("admin:project_changeproposal_decide", args=[proposal.pk, "approve"]))
    proposal.refresh_from_db()
    return proposal


def channel_form(channel: Channel, **changes) -> dict:
    data = {
        "name": channel.name,
        "enabled": "on" if channel.enabled else "",
        "payout_account_kind": channel.payout_account_kind,
        "fee_rate": str(channel.fee_rate),
        "fee_min": str(channel.fee_min),
        "fee_max": str(channel.fee_max),
        "min_amount": "" if channel.min_amount is None else str(channel.min_amount),
        "max_amount": "" if channel.max_amount is None else str(channel.max_amount),
        "priority": str(channel.priority),
        "adapter": channel.adapter,
        "rate_limit_per_second": str(channel.rate_limit_per_second),
    }
    return {key: value for key, value in (data | changes).items() if value != ""}


def test_a_supervisors_change_of_fees_and_switch_is_applied_by_a_second_supervisor(staff_in, client_for):
    client = client_for(staff_in("finance_supervisor"))
    bank = Channel.objects.get(code="bank")

    page = client.get(url("channel", "change", bank.pk))
    response = client.post(
        url("channel", "change", bank.pk), channel_form(bank, fee_rate="0.002", fee_max="8.00", enabled="")
    )

    assert page.status_code == 200
    assert 'name="_save"' in page.content.decode()
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Channel.objects.get(pk=bank.pk).enabled is True
    proposal = ChangeProposal.objects.get()
    assert approve(client, proposal).status == "pending"
    assert approve(client_for(staff_in("finance_supervisor")), proposal).status == "applied"
    bank.refresh_from_db()
    assert (bank.fee_rate, bank.fee_max, bank.enabled, bank.code) == (D("0.002"), D("8.00"), False, "bank")


def test_operations_switching_a_channel_off_or_loosening_its_limits_only_proposes_it(staff_in, client_for):
    proposer = staff_in("operations")
    client = client_for(proposer)
    bank = Channel.objects.get(code="bank")
    before = Channel.objects.values().get(pk=bank.pk)

    response = client.post(
        url("channel", "change", bank.pk),
        channel_form(bank, max_amount="99999999.00", enabled=""),
    )

    assert response.status_code == 302
    assert Channel.objects.values().get(pk=bank.pk) == before
    proposal = ChangeProposal.objects.get()
    assert (proposal.proposed_by, proposal.after["enabled"], proposal.after["max_amount"]) == (
        proposer,
        False,
        "99999999.00",
    )
    assert approve(client, proposal).status == "pending"
    assert Channel.objects.values().get(pk=bank.pk) == before


def test_the_channel_service_refuses_a_column_the_actor_may_not_change(staff_in):
    bank = Channel.objects.get(code="bank")

    with pytest.raises(PermissionDeniedError, match="fee_rate"):
        services.channel_change(
            channel=bank, actor=staff_in("operations"), changes={"fee_rate": D("0"), "enabled": False}
        )

    assert Channel.objects.get(pk=bank.pk).enabled is True


def test_operations_switching_a_channel_off_in_the_list_waits_for_a_supervisor(staff_in, client_for):
    client = client_for(staff_in("operations"))
    channels = list(Channel.objects.order_by("pk"))
    data = {"form-TOTAL_FORMS": str(len(channels)), "form-INITIAL_FORMS": str(len(channels)), "_save": "Save"}
    for index, channel in enumerate(channels):
        data[f"form-{index}-id"] = str(channel.pk)
        if channel.enabled and channel.code != "wechat":
            data[f"form-{index}-enabled"] = "on"

    response = client.post(url("channel", "changelist"), data)

    assert response.status_code == 302
    assert Channel.objects.get(code="wechat").enabled
    proposal = ChangeProposal.objects.get()
    assert (proposal.object_repr, proposal.after["enabled"]) == ("wechat", False)
    assert approve(client_for(staff_in("finance_supervisor")), proposal).status == "applied"
    assert not Channel.objects.get(code="wechat").enabled
    assert Channel.objects.get(code="bank").enabled


def test_operations_neither_add_nor_delete_channels_nor_change_their_code(staff_in, client_for):
    client = client_for(staff_in("operations"))
    bank = Channel.objects.get(code="bank")

    add = client.post(url("channel", "add"), channel_form(bank) | {"code": "new"})
    delete = client.post(url("channel", "delete", bank.pk), {"post": "yes"})
    client.post(url("channel", "change", bank.pk), channel_form(bank) | {"code": "renamed"})

    assert (add.status_code, delete.status_code) == (403, 403)
    assert not Channel.objects.filter(code__in=["new", "renamed"]).exists()
    assert Channel.objects.filter(pk=bank.pk, code="bank").exists()


@pytest.mark.parametrize("group", ["finance_reviewer", "auditor"])
def test_staff_other_than_operations_and_supervisors_cannot_change_a_channel(staff_in, client_for, group):
    client = client_for(staff_in(group))
    bank = Channel.objects.get(code="bank")
    before = Channel.objects.values().get(pk=bank.pk)

    page = client.get(url("channel", "change", bank.pk))
    response = client.post(url("channel", "change", bank.pk), channel_form(bank, fee_rate="0.5", enabled=""))

    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert response.status_code == 403
    assert Channel.objects.values().get(pk=bank.pk) == before


def test_nobody_deletes_a_channel_not_even_a_superuser(superuser, client_for):
    bank = Channel.objects.get(code="bank")

    response = client_for(superuser).post(url("channel", "delete", bank.pk), {"post": "yes"})

    assert response.status_code == 403
    assert Channel.objects.filter(pk=bank.pk).exists()
