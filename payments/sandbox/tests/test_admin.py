"""Scenarios are set in the admin while the demo runs; the sandbox's books are read-only there."""

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from config.tests.staff import otp_login
from payments.sandbox import engine
from payments.sandbox.models import SandboxPayout, SandboxRule, Scenario

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_client(client):
    return otp_login(client, get_user_model().objects.create_superuser("root", password="pw-for-tests-only"))


def test_a_rule_added_in_the_admin_decides_the_next_payout(superuser_client):
    response = superuser_client.post(
        "/admin/sandbox/sandboxrule/add/",
        {"protocol": "bank", "order_no": "", "scenario": "fail", "failure_code": "CARD_LOST", "delay_seconds": "0"},
    )

    assert response.status_code == 302, response.content.decode()[:500]
    payout = engine.payout_receive(
        protocol="bank", order_no="WD1", amount=Decimal("1.00"), payee_masked="**** 1"
    ).payout
    assert payout is not None
    assert (payout.scenario, payout.state, payout.failure_code) == ("fail", "failed", "CARD_LOST")
    assert SandboxRule.objects.get().scenario == Scenario.FAIL


def test_the_sandboxs_payouts_are_read_only(superuser_client):
    payout = engine.payout_receive(
        protocol="bank", order_no="WD2", amount=Decimal("1.00"), payee_masked="**** 1"
    ).payout
    assert payout is not None

    page = superuser_client.get(f"/admin/sandbox/sandboxpayout/{payout.pk}/change/")
    superuser_client.post(f"/admin/sandbox/sandboxpayout/{payout.pk}/change/", {"state": "failed"})

    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert SandboxPayout.objects.get(pk=payout.pk).state == SandboxPayout.State.SUCCESS
