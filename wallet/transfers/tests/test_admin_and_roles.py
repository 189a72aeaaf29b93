"""Receive codes in the admin, who may do what with transfers, the transfer rules as admin data,
and the API when no guard is registered."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.admin import helpers
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from risk import services as risk_services
from risk.models import RiskRule
from wallet.models import PeerTransfer, ReceiveCode
from wallet.transfers.guards import guard_replaced

pytestmark = pytest.mark.django_db

D = Decimal
CODES = "/admin/wallet/receivecode/"


@pytest.fixture
def code(make_user):
    now = timezone.now()
    return ReceiveCode.objects.create(
        owner=make_user("shop"), amount=D("5.00"), single_use=True, created_at=now, expires_at=now + timedelta(hours=1)
    )


def test_operations_revoke_a_receive_code_from_the_admin_and_the_actor_is_kept(code, staff_in, client_for):
    operator = staff_in("operations", "otto")

    response = client_for(operator).post(
        CODES, {"action": "revoke_selected", helpers.ACTION_CHECKBOX_NAME: [code.pk]}, follow=True
    )

    assert response.status_code == 200
    code.refresh_from_db()
    assert code.revoked_at is not None and code.revoked_by == operator


def test_receive_codes_are_read_only_in_the_admin_and_auditors_cannot_revoke(code, staff_in, client_for):
    auditor = client_for(staff_in("auditor"))

    page = auditor.get(f"{CODES}{code.pk}/change/")
    auditor.post(CODES, {"action": "revoke_selected", helpers.ACTION_CHECKBOX_NAME: [code.pk]})

    assert page.status_code == 200 and b'name="_save"' not in page.content
    code.refresh_from_db()
    assert code.revoked_at is None


def test_the_roles_hold_the_transfer_permissions():
    def wallet_transfer_permissions(role: str) -> set[str]:
        return {
            p.codename
            for p in Group.objects.get(name=role).permissions.filter(
                content_type__app_label="wallet", content_type__model__in=["peertransfer", "receivecode"]
            )
        }

    review = {"view_peertransfer", "view_receivecode", "review_peertransfer", "revoke_receivecode"}
    assert wallet_transfer_permissions("finance_reviewer") == review
    assert wallet_transfer_permissions("finance_supervisor") == review
    assert wallet_transfer_permissions("operations") == {"view_peertransfer", "view_receivecode", "revoke_receivecode"}
    assert wallet_transfer_permissions("auditor") == {"view_peertransfer", "view_receivecode"}


def test_a_supervisor_changes_a_transfer_limit_and_operations_cannot(staff_in):
    rule = RiskRule.objects.get(code="transfer_daily_amount")

    risk_services.rule_change(rule=rule, actor=staff_in("finance_supervisor"), changes={"amount": D("80000.00")})
    with pytest.raises(PermissionDenied):
        risk_services.rule_change(rule=rule, actor=staff_in("operations"), changes={"amount": D("1.00")})

    assert RiskRule.objects.get(code="transfer_daily_amount").amount == D("80000.00")


def test_a_transfer_rule_of_a_withdrawal_only_kind_is_invalid():
    rule = RiskRule(
        code="transfer_window",
        flow=RiskRule.Flow.TRANSFER,
        kind=RiskRule.Kind.FOUR_EYES,
        action=RiskRule.Action.REVIEW,
        priority=1,
        amount=D("1.00"),
        message="-",
    )

    with pytest.raises(ValidationError) as invalid:
        rule.full_clean()

    assert "kind" in invalid.value.message_dict


def test_the_api_refuses_transfers_while_no_guard_is_registered(sender, recipient, api_client_for):
    with guard_replaced(None):
        response = api_client_for(sender).post(
            "/api/v1/transfers/", {"to": "recipient", "amount": "1.00"}, format="json", HTTP_IDEMPOTENCY_KEY="k"
        )

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "not_available"
    assert not PeerTransfer.objects.exists()
