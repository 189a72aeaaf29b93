"""The dashboard in a real browser: each role signs in and sees its own panels and not the
others', a figure's link opens a changelist counting as many rows, and a screenshot of the
superuser's dashboard is kept (the test's folder and var/artifacts/dashboard.png)."""

import re
import shutil
from datetime import timedelta
from decimal import Decimal
from itertools import count
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from config.dashboard.snapshot import CACHE_KEY
from config.tests.browser import admin_login, wait_for
from payments.channels import base
from payments.conftest import (  # noqa: F401 - the payments fixtures the services need
    sandbox_secrets_once_per_process,
    throttle_history_cleared,
)
from payments.dead_letters.models import DeadLetter
from payments.merchants.tests.factories import order_payment
from payments.withdrawals import services as withdrawals
from payments.withdrawals.models import WithdrawalStatus
from reconciliation.models import Discrepancy
from reconciliation.tests.internal_support import (
    CARD_NUMBER,
    channel_order,
    channel_says,
    merchant_service,
    paid_by_channel,
    recharged,
    refunded,
    withdrawn,
)
from risk.models import RiskRule
from wallet.transfers import services as transfers

PASSWORD = "browser-pw-for-tests"
ARTIFACT = Path(settings.BASE_DIR) / "var" / "artifacts" / "dashboard.png"
BALANCE_ORDERS = count(1)
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Per role: the panels and figures (element ids) it sees, and those it must not.
ROLES = {
    "finance_reviewer": (
        {
            "dashboard-review",
            "figure-four-eyes",
            "figure-transfer-queue",
            "figure-discrepancies-open",
            "volume-recharge",
        },
        {"figure-dead-letters", "figure-discrepancy-proposals"},
    ),
    "finance_supervisor": (
        {"dashboard-review", "figure-four-eyes", "figure-discrepancy-proposals", "dashboard-chart"},
        {"figure-dead-letters"},
    ),
    "auditor": (
        {"dashboard-incidents", "figure-dead-letters", "figure-discrepancies-open", "dashboard-chart"},
        {"dashboard-review", "figure-four-eyes", "figure-discrepancy-proposals"},
    ),
    "operations": (
        {"dashboard-incidents", "figure-dead-letters", "figure-withdrawals-escalated", "dashboard-rates"},
        {"dashboard-review", "figure-discrepancies-open", "figure-discrepancy-proposals"},
    ),
}


@pytest.fixture
def books(make_user, funded_account, staff_in, sent_tasks):
    """Two weeks of recharges, payments, withdrawals and transfers; a review queue with a
    four-eyes order and a held transfer; a dead letter and discrepancies, one with a proposal."""
    cache.delete(CACHE_KEY)
    RiskRule.objects.filter(code__in=["hourly_count", "daily_count", "monthly_count", "daily_amount"]).update(
        enabled=False
    )
    payer, friend = make_user("payer"), make_user("friend")
    funded_account(payer, "900000.00")
    supervisor = staff_in("finance_supervisor", "books-supervisor")
    now = timezone.now()
    for back in range(13, -1, -1):
        with time_machine.travel(now - timedelta(days=back), tick=False):
            recharged(payer, f"{800 + 90 * (back % 5)}.00")
            paid = paid_by_channel(payer, f"{300 + 40 * (back % 3)}.00")
            refunded(paid, f"{20 + 15 * (back % 4)}.00", by=merchant_service())
            paid_from_balance(payer, f"{120 + 10 * back}.00")
            withdrawn(payer, f"{400 + 25 * (back % 4)}.00", WithdrawalStatus.SUCCESS, staff=supervisor)
            send(payer, friend, f"{60 + 5 * back}.00", f"day-{back}")
    channel_says(channel_order(payer, "55.00"), base.PaymentState.CLOSED)
    withdrawn(payer, "150.00", WithdrawalStatus.FAILED, staff=supervisor)
    card, _ = withdrawals.payout_account_bind(
        user=payer, kind="bank_card", card_number=CARD_NUMBER, holder_name="张三", bank_code="ICBC"
    )
    for amount in ("6000.00", "9000.00"):
        withdrawals.withdrawal_submit(user=payer, payout_account=card, amount=Decimal(amount), idempotency_key=amount)
    escalated = withdrawals.withdrawal_submit(
        user=payer, payout_account=card, amount=Decimal("7000.00"), idempotency_key="escalated"
    ).withdrawal
    type(escalated).objects.filter(pk=escalated.pk).update(escalated_at=now)
    send(payer, make_user("stranger"), "2500.00", "held")
    DeadLetter.objects.create(task="payments.payout_send", args=[1], error="channel down", attempts=5)
    for number, action in enumerate(("", "correction")):
        Discrepancy.objects.create(
            kind="amount_mismatch",
            bill_date=timezone.localdate(),
            object_kind="payment",
            order_no=f"PM-{number}",
            status="investigating" if action else "open",
            proposed_action=action,
            proposed_amount=Decimal("1.00") if action else None,
            proposed_by=supervisor if action else None,
        )


def paid_from_balance(payer, amount: str):
    """An order payment of the shop that ``payer`` paid from the balance; its own business
    order numbers, apart from those of the channel orders."""
    number = f"BAL-{next(BALANCE_ORDERS)}"
    return order_payment(payer, amount, method="balance", client_type="web", business_order_no=number)


def send(sender, recipient, amount: str, key: str):
    return transfers.transfer_send(sender=sender, recipient=recipient, amount=Decimal(amount), idempotency_key=key)


def signed_in(browser, live_server, user) -> None:
    user.set_password(PASSWORD)
    user.save()
    admin_login(browser, live_server.url, user.username, PASSWORD)
    browser.get(f"{live_server.url}/admin/")
    wait_for(browser, "#content-main")


def present(browser, element_ids: set[str]) -> set[str]:
    return {element_id for element_id in element_ids if browser.find_elements(By.ID, element_id)}


def listed_count(browser) -> int:
    """The changelist's own count of its rows, from its paginator line ("3 withdrawals")."""
    text = wait_for(browser, "#changelist-form .paginator").text
    found = re.match(r"\s*(\d+)", text)
    assert found, text
    return int(found.group(1))


def follow(browser, css_selector: str) -> int:
    """Click a figure's link; answers the number the figure showed."""
    link = browser.find_element(By.CSS_SELECTOR, css_selector)
    shown = int(link.text)
    link.click()
    WebDriverWait(browser, 10).until(EC.staleness_of(link))
    return shown


@pytest.mark.parametrize("role", ROLES)
def test_each_role_sees_its_own_panels_and_not_the_others(role, books, browser, live_server, staff_in):
    # Given the books and a staff member of the role
    user = staff_in(role, f"dash-{role}")
    seen, unseen = ROLES[role]

    # When they sign in, the admin index shows their panels above the app list, and not the others'
    signed_in(browser, live_server, user)
    assert present(browser, seen | unseen) == seen
    assert browser.find_elements(By.CSS_SELECTOR, "#dashboard ~ #content-main .app-wallet")
    assert re.search(r"Figures as of \d\d:\d\d:\d\d, \d+ s ago", wait_for(browser, ".dashboard-age").text)

    # And the dead letters (or, for reviewers, the queue) open on a changelist counting as many
    figure = "#figure-dead-letters a" if "figure-dead-letters" in seen else "#figure-withdrawal-queue a"
    shown = follow(browser, figure)
    assert shown >= 1
    assert listed_count(browser) == shown


def test_the_superuser_sees_every_panel_each_link_counts_the_same_and_a_screenshot_is_kept(
    books, browser, live_server, make_user, tmp_path
):
    # Given a superuser on the dashboard
    root = make_user("root", is_staff=True, is_superuser=True)
    signed_in(browser, live_server, root)
    every = set().union(*(seen | unseen for seen, unseen in ROLES.values()))
    assert present(browser, every) == every
    assert len(browser.find_elements(By.CSS_SELECTOR, "#dashboard-chart svg .series")) == 5
    assert len(browser.find_elements(By.CSS_SELECTOR, "#dashboard-chart svg .series circle")) == 5 * 14

    # A screenshot of it is kept as the test's artifact
    browser.set_window_size(1400, 2000)
    shot = tmp_path / "dashboard.png"
    assert browser.save_screenshot(str(shot))
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, ARTIFACT)

    # When today's withdrawals and the four-eyes figure are followed, the changelists count as many
    for figure in ("#volume-withdrawal .today-count a", "#figure-four-eyes a", "#figure-withdrawals-escalated a"):
        browser.get(f"{live_server.url}/admin/")
        shown = follow(browser, figure)
        assert shown >= 1
        assert listed_count(browser) == shown, figure
