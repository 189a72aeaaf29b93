"""The payments admin: the withdrawal approval queue, its buttons and bulk actions, four eyes,
read-only money, exports for auditors, masked payout accounts and the payout blocklist."""

import html
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_fsm_log.models import StateLog
from import_export.resources import ModelResource

from payments.channels.models import Channel
from payments.conftest import CARD_NUMBER, OPENID, OTHER_CARD_NUMBER
from payments.withdrawals import services
from payments.withdrawals.models import PayoutAccount, Withdrawal, WithdrawalApproval, WithdrawalStatus
from payments.withdrawals.resources import WithdrawalResource, WithdrawalTransitionResource
from risk.models import BlocklistEntry
from wallet.errors import RiskRejected
from wallet.exports.tests.sheets import export_table
from wallet.models import Account, Hold

pytestmark = pytest.mark.django_db

D = Decimal
# The queue: the withdrawal list opens on pending orders, with no parameter.
QUEUE = "/admin/payments/withdrawal/"
EVERY_STATUS = "status=all"
HOLDER_NAME = "张三"
GROUPS = ["finance_reviewer", "finance_supervisor", "auditor", "operations"]
NOT_PENDING = ["approved", "processing", "success", "failed", "rejected", "cancelled", "refunded"]
FORMATS = {"csv": "0", "xlsx": "1"}
REVIEW_REASON = "Withdrawals above 5,000.00 are reviewed by finance staff."
FOUR_EYES_REASON = "Withdrawals of 8,000.00 or more need two approvals."


# Helpers


def url(model: str, view: str, *args) -> str:
    return reverse(f"admin:payments_{model}_{view}", args=args)


def approve_url(withdrawal: Withdrawal) -> str:
    return url("withdrawal", "approve", withdrawal.pk)


def reject_url(withdrawal: Withdrawal) -> str:
    return url("withdrawal", "reject", withdrawal.pk)


def change_url(withdrawal: Withdrawal) -> str:
    return url("withdrawal", "change", withdrawal.pk)


def messages_of(response) -> list[tuple[str, str]]:
    """(level, text) of the messages the view added, as the next page would show them.

    The redirect is not followed, so the messages wait in the client's cookie; they are
    dropped here as that next page would, and the client's next request starts without them.
    """
    shown = [(message.level_tag, message.message) for message in get_messages(response.wsgi_request)]
    response.client.cookies.pop("messages", None)
    return shown


def texts(cell: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", cell)).split())


def queue_rows(response) -> list[dict[str, str]]:
    """The changelist's rows, column name -> cell text, in the order shown."""
    assert response.status_code == 200
    page = response.content.decode()
    table = re.search(r'<table id="result_list">.*?<tbody>(.*?)</tbody>', page, re.S)
    if table is None:
        return []
    return [
        {
            name: texts(cell)
            for name, cell in re.findall(r'<t[hd] class="field-(\w+)[^"]*"[^>]*>(.*?)</t[hd]>', row, re.S)
        }
        for row in re.findall(r"<tr>(.*?)</tr>", table.group(1), re.S)
    ]


def order_no_of(row: dict[str, str]) -> str:
    """The order cell reads "<order no> <user> <submitted> [<waiting>]"."""
    return row["order"].split()[0]


def listed_order_nos(response) -> list[str]:
    return [order_no_of(row) for row in queue_rows(response)]


def state(withdrawal: Withdrawal) -> dict:
    """Everything an admin refusal must leave as it was: the order, its log and its money."""
    order = Withdrawal.objects.get(pk=withdrawal.pk)
    hold = Hold.objects.select_related("account").get(pk=order.hold_id)
    return {
        "status": order.status,
        "status_reason": order.status_reason,
        "approved_at": order.approved_at,
        "approvals": sorted(order.approvals.values_list("actor_id", flat=True)),
        "log": list(transitions_of(order).values_list("transition", "state", "by_id", "description")),
        "hold": hold.status,
        "balance": hold.account.balance,
        "held": hold.account.held,
    }


def transitions_of(withdrawal: Withdrawal):
    return StateLog.objects.for_(withdrawal).order_by("timestamp", "id")


def available_of(user) -> Decimal:
    account = Account.objects.get(owner=user, kind=Account.Kind.USER)
    return account.balance - account.held


def bulk(client: Client, action: str, withdrawals, *, query: str = "", **extra):
    """Submit the changelist's action form with ``withdrawals`` ticked, as the browser would."""
    data = {"action": action, "index": "0", "_selected_action": [w.pk for w in withdrawals], **extra}
    return client.post(f"{url('withdrawal', 'changelist')}?{query}", data)


# Fixtures


@pytest.fixture
def pending_for(make_user, funded_account, submit):
    """A pending withdrawal of a new user funded with ``funds`` (6000.00 of 10000.00 by default)."""

    def make(amount: str = "6000.00", *, funds: str = "10000.00", username: str | None = None) -> Withdrawal:
        user = make_user(username)
        funded_account(user, funds)
        withdrawal = submit(user, amount)
        assert withdrawal.status == WithdrawalStatus.PENDING
        return withdrawal

    return make


@pytest.fixture
def reviewer(staff_in):
    return staff_in("finance_reviewer", "reviewer1")


@pytest.fixture
def reviewer_client(reviewer, client_for):
    return client_for(reviewer)


@pytest.fixture
def superuser(make_user):
    return make_user("root", is_staff=True, is_superuser=True)


@pytest.fixture
def user_in(staff_in, superuser):
    """A staff user of the named group, or the superuser."""

    def make(who: str):
        return superuser if who == "superuser" else staff_in(who)

    return make


# 1. The queue


def status_filter_of(response) -> dict[str, str]:
    """The status filter's choices, label -> link, and which one is selected (key "selected")."""
    page = response.content.decode()
    section = re.search(r'<details data-filter-title="status".*?</details>', page, re.S)
    assert section is not None, "no status filter"
    choices = {
        texts(label): html.unescape(link)
        for link, label in re.findall(r'<li[^>]*>\s*<a href="([^"]*)"[^>]*>(.*?)</a>', section.group(0), re.S)
    }
    selected = re.search(r'<li class="selected">\s*<a [^>]*>(.*?)</a>', section.group(0), re.S)
    return choices | {"selected": texts(selected.group(1)) if selected else ""}


def test_the_withdrawal_list_opens_on_the_pending_queue(pending_for, withdrawal_in, reviewer_client):
    pending = pending_for()
    withdrawal_in("approved")

    response = reviewer_client.get(url("withdrawal", "changelist"))

    assert response.status_code == 200
    assert listed_order_nos(response) == [pending.order_no]
    assert status_filter_of(response)["selected"] == "Pending review"


def test_the_queue_lists_pending_orders_oldest_first_with_balance_risk_history_and_approvals(
    pending_for, withdrawal_in, reviewer_client
):
    # Given two pending orders, the later-submitted one created earlier, and orders in other states
    newer = pending_for(username="newer")
    older = pending_for(username="older")
    Withdrawal.objects.filter(pk=older.pk).update(created_at=newer.created_at - timedelta(hours=1))
    others = [withdrawal_in(status) for status in NOT_PENDING]

    # When a reviewer opens the queue
    rows = queue_rows(reviewer_client.get(QUEUE))

    # Then only the pending ones are listed, oldest first, with everything a reviewer weighs
    assert [order_no_of(row) for row in rows] == [older.order_no, newer.order_no]
    assert not {other.order_no for other in others} & {order_no_of(row) for row in rows}
    first = rows[0]
    submitted = timezone.localtime(Withdrawal.objects.get(pk=older.pk).created_at)
    assert first["order"].startswith(f"{older.order_no} older {submitted:%Y-%m-%d %H:%M} 1 h ")
    assert (first["amount_with_fee"], first["available_balance"]) == ("¥6,000.00 fee ¥5.00", "¥4,000.00")
    assert first["risk_reasons"] == "amount 6,000 > 5,000"
    assert first["recent_history"] == "1 order ¥6,000.00 not released"
    assert first["approval_state"] == "Pending review 0 of 1"


def test_the_recent_history_counts_the_users_orders_of_the_last_30_days_and_the_money_not_released(
    make_user, funded_account, submit, reviewer, reviewer_client
):
    user = make_user("regular")
    funded_account(user, "30000.00")
    rejected = submit(user, "6000.00")
    services.withdrawal_reject(withdrawal=rejected, actor=reviewer, reason="duplicate")
    submit(user, "100.00")  # allowed at once
    old = submit(user, "200.00")
    Withdrawal.objects.filter(pk=old.pk).update(created_at=old.created_at - timedelta(days=31))
    pending = submit(user, "7000.00")

    (row,) = queue_rows(reviewer_client.get(QUEUE))

    assert order_no_of(row) == pending.order_no
    assert row["recent_history"] == "3 orders ¥7,100.00 not released"
    assert row["available_balance"] == "¥22,700.00"


def test_choosing_all_statuses_in_the_status_filter_lists_orders_of_every_status(
    pending_for, withdrawal_in, reviewer_client
):
    pending = pending_for()
    others = {status: withdrawal_in(status) for status in NOT_PENDING}
    choices = status_filter_of(reviewer_client.get(QUEUE))

    everything = reviewer_client.get(url("withdrawal", "changelist") + choices["All"])
    only_failed = reviewer_client.get(url("withdrawal", "changelist") + choices["Failed"])

    assert everything.status_code == 200, f"'All' sent the reviewer to {everything.get('Location')}"
    assert status_filter_of(everything)["selected"] == "All"
    assert set(listed_order_nos(everything)) == {pending.order_no} | {w.order_no for w in others.values()}
    assert listed_order_nos(only_failed) == [others["failed"].order_no]


def test_the_channel_filter_offers_only_the_channels_that_pay_out(pending_for, reviewer_client):
    pending_for()

    page = reviewer_client.get(QUEUE).content.decode()

    offered = set(re.findall(r"channel__id__exact=(\d+)", page))
    payout_channels = {str(pk) for pk in Channel.objects.exclude(payout_account_kind="").values_list("pk", flat=True)}
    assert offered == payout_channels
    assert Channel.objects.filter(payout_account_kind="").exists()


def test_the_channel_filter_names_the_payout_channels_and_never_a_payment_only_one(pending_for, reviewer_client):
    pending_for()

    page = html.unescape(reviewer_client.get(QUEUE).content.decode())

    section = re.search(r'<details data-filter-title="channel".*?</details>', page, re.S)
    assert section is not None
    offered = re.findall(r"<a[^>]*>([^<]+)</a>", section.group(0))
    payout = Channel.objects.exclude(payout_account_kind="").order_by("name", "code").values_list("name", flat=True)
    assert offered == ["All", *payout]
    assert not {"WeChat Pay", "Alipay"} & set(offered)


def test_the_queue_reads_the_same_number_of_queries_for_two_orders_or_six(
    pending_for, reviewer, reviewer_client, staff_in
):
    def queries_for_queue() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert reviewer_client.get(QUEUE).status_code == 200
        return len(queries)

    for _ in range(2):
        pending_for()
    two = queries_for_queue()
    for _ in range(3):
        pending_for()
    services.withdrawal_approve(withdrawal=pending_for("9000.00", funds="12000.00"), actor=staff_in("finance_reviewer"))

    assert len(queue_rows(reviewer_client.get(QUEUE))) == 6
    assert queries_for_queue() == two


def test_the_orders_page_shows_the_risk_inputs_as_a_table_in_local_time(pending_for, reviewer_client):
    withdrawal = pending_for("6000.00")
    evaluated = timezone.localtime(withdrawal.risk_evaluation.created_at)

    page = html.unescape(reviewer_client.get(change_url(withdrawal)).content.decode())

    table = re.search(r'<table class="risk-inputs">(.*?)</table>', page, re.S)
    assert table is not None
    rows = dict(re.findall(r'<th scope="row">(.*?)</th><td>(.*?)</td>', table.group(1)))
    assert rows["Amount"] == "¥6,000.00"
    assert rows["Earlier orders, today"] == "0"
    assert rows["Evaluated at"].startswith(f"{evaluated:%Y-%m-%d %H:%M}")
    assert rows["Evaluated at"].endswith(" CST")
    assert "payout_fingerprint" not in page
    assert "{'" not in table.group(1)
    # And the rule that fired is a badge with the sentence on hover, and the sentence in the hits table
    assert f'title="{REVIEW_REASON}">amount 6,000 > 5,000</span>' in page
    assert f"<td>{REVIEW_REASON}</td><td>6,000</td><td>5,000</td>" in page


def test_a_status_that_does_not_exist_sends_the_reviewer_back_with_an_error(reviewer_client):
    response = reviewer_client.get(f"{QUEUE}?status=lost")

    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")


def test_a_reviewer_finds_an_order_of_any_status_by_its_number(withdrawal_in, reviewer_client):
    approved = withdrawal_in("approved")

    response = reviewer_client.get(f"{QUEUE}?{EVERY_STATUS}&q={approved.order_no}")

    assert listed_order_nos(response) == [approved.order_no]


# 2. Approve and reject from the order's page


def test_a_reviewer_approves_a_pending_order_from_its_page(pending_for, reviewer, reviewer_client):
    withdrawal = pending_for()

    response = reviewer_client.post(approve_url(withdrawal))

    assert response.status_code == 302
    assert response["Location"] == QUEUE
    assert messages_of(response) == [("success", f"{withdrawal.order_no} is approved.")]
    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.APPROVED
    assert withdrawal.approved_at is not None
    assert list(WithdrawalApproval.objects.filter(withdrawal=withdrawal).values_list("actor", "as_supervisor")) == [
        (reviewer.pk, False)
    ]
    log = transitions_of(withdrawal).get(transition="approve")
    assert (log.source_state, log.state, log.by) == ("pending", "approved", reviewer)
    # The hold stays until the payout succeeds or fails.
    assert Hold.objects.get(pk=withdrawal.hold_id).status == Hold.Status.PENDING


def test_a_reviewer_rejects_a_pending_order_with_a_reason_and_the_money_is_available_again(
    pending_for, reviewer, reviewer_client
):
    withdrawal = pending_for()
    assert available_of(withdrawal.user) == D("4000.00")

    response = reviewer_client.post(reject_url(withdrawal), {"reason": "  Card holder does not match.  "})

    assert response.status_code == 302
    assert response["Location"] == QUEUE
    assert messages_of(response) == [
        ("success", f"{withdrawal.order_no} is rejected; the money is back in the wallet.")
    ]
    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.REJECTED
    assert withdrawal.status_reason == "Card holder does not match."
    log = transitions_of(withdrawal).get(transition="reject")
    assert (log.source_state, log.state, log.by, log.description) == (
        "pending",
        "rejected",
        reviewer,
        "Card holder does not match.",
    )
    assert Hold.objects.get(pk=withdrawal.hold_id).status == Hold.Status.RELEASED
    assert available_of(withdrawal.user) == D("10000.00")
    assert not WithdrawalApproval.objects.filter(withdrawal=withdrawal).exists()


@pytest.mark.parametrize("data", [{}, {"reason": ""}, {"reason": "   \n "}], ids=["missing", "empty", "blank"])
def test_a_rejection_without_a_reason_is_refused_and_changes_nothing(pending_for, reviewer_client, data):
    withdrawal = pending_for()
    before = state(withdrawal)

    response = reviewer_client.post(reject_url(withdrawal), data)

    assert response.status_code == 302
    assert response["Location"] == change_url(withdrawal)
    assert messages_of(response) == [("error", "A rejection needs a reason.")]
    assert state(withdrawal) == before


def test_the_order_page_shows_the_risk_hits_and_the_transition_log(pending_for, reviewer, reviewer_client):
    withdrawal = pending_for()

    page = reviewer_client.get(change_url(withdrawal)).content.decode()

    hits = re.search(r'<table id="risk-hits">.*?</table>', page, re.S)
    assert hits is not None
    assert "large_amount_review" in hits.group(0)
    assert REVIEW_REASON in texts(hits.group(0))
    log = re.search(r'<table id="transition-log">.*?</table>', page, re.S)
    assert log is not None
    assert "submit" in log.group(0)
    assert "risk: review" in log.group(0)


def test_the_approve_and_reject_urls_accept_only_post(pending_for, reviewer_client):
    withdrawal = pending_for()
    before = state(withdrawal)

    assert reviewer_client.get(approve_url(withdrawal)).status_code == 405
    assert reviewer_client.get(reject_url(withdrawal)).status_code == 405
    assert state(withdrawal) == before


def test_approving_an_order_that_does_not_exist_is_a_404(reviewer_client):
    assert reviewer_client.post(url("withdrawal", "approve", 999_999)).status_code == 404
    assert reviewer_client.post(url("withdrawal", "reject", 999_999), {"reason": "x"}).status_code == 404


# 3. Transitions the admin refuses


@pytest.mark.parametrize("status", NOT_PENDING)
def test_approving_an_order_that_is_not_pending_is_refused_and_changes_nothing(withdrawal_in, reviewer_client, status):
    withdrawal = withdrawal_in(status)
    before = state(withdrawal)

    response = reviewer_client.post(approve_url(withdrawal))

    assert response.status_code == 302
    assert response["Location"] == change_url(withdrawal)
    assert messages_of(response) == [
        ("error", f"Withdrawal {withdrawal.order_no} is {status}; only pending withdrawals can be approved.")
    ]
    assert state(withdrawal) == before


@pytest.mark.parametrize("status", NOT_PENDING)
def test_rejecting_an_order_that_is_not_pending_is_refused_and_changes_nothing(withdrawal_in, reviewer_client, status):
    withdrawal = withdrawal_in(status)
    before = state(withdrawal)

    response = reviewer_client.post(reject_url(withdrawal), {"reason": "too late"})

    assert response.status_code == 302
    assert response["Location"] == change_url(withdrawal)
    assert messages_of(response) == [("error", f"Withdrawal {withdrawal.order_no} is {status}; it cannot reject.")]
    assert state(withdrawal) == before


@pytest.mark.parametrize("group", ["auditor", "operations"])
def test_staff_without_the_approve_permission_get_no_buttons_and_their_posts_are_refused(
    pending_for, staff_in, client_for, group
):
    withdrawal = pending_for()
    before = state(withdrawal)
    client = client_for(staff_in(group))

    page = client.get(change_url(withdrawal))
    approve = client.post(approve_url(withdrawal))
    approve_messages = messages_of(approve)
    reject = client.post(reject_url(withdrawal), {"reason": "not mine to decide"})
    reject_messages = messages_of(reject)

    assert page.status_code == 200
    assert 'id="approve-button"' not in page.content.decode()
    assert 'id="reject-button"' not in page.content.decode()
    assert (approve.status_code, approve["Location"]) == (302, change_url(withdrawal))
    assert approve_messages == [("error", "You may not approve withdrawals.")]
    assert (reject.status_code, reject["Location"]) == (302, change_url(withdrawal))
    assert reject_messages == [("error", "You may not reject withdrawals.")]
    assert state(withdrawal) == before


def test_staff_without_any_withdrawal_permission_get_403_and_change_nothing(pending_for, make_user, client_for):
    withdrawal = pending_for()
    before = state(withdrawal)
    client = client_for(make_user("nogroup", is_staff=True))

    assert client.get(change_url(withdrawal)).status_code == 403
    assert client.post(approve_url(withdrawal)).status_code == 403
    assert client.post(reject_url(withdrawal), {"reason": "x"}).status_code == 403
    assert state(withdrawal) == before


def test_a_customer_who_is_not_staff_is_sent_to_the_login_page_and_changes_nothing(pending_for, client_for):
    withdrawal = pending_for()
    before = state(withdrawal)
    client = client_for(withdrawal.user)

    response = client.post(approve_url(withdrawal))

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert state(withdrawal) == before


def test_finance_staff_cannot_approve_their_own_withdrawal(funded_account, submit, staff_in, client_for):
    reviewer = staff_in("finance_reviewer")
    funded_account(reviewer, "10000.00")
    withdrawal = submit(reviewer, "6000.00")
    before = state(withdrawal)
    client = client_for(reviewer)

    page = client.get(change_url(withdrawal)).content.decode()
    response = client.post(approve_url(withdrawal))

    assert 'id="approve-button"' not in page
    assert "Nobody approves their own withdrawal." in page
    assert messages_of(response) == [("error", "Nobody approves their own withdrawal.")]
    assert state(withdrawal) == before


# 4. Buttons only where allowed


def test_a_reviewer_sees_approve_and_reject_on_a_pending_order(pending_for, reviewer_client):
    withdrawal = pending_for()

    page = reviewer_client.get(change_url(withdrawal)).content.decode()

    assert 'id="approve-button"' in page
    assert f'action="{approve_url(withdrawal)}"' in page
    assert 'id="reject-form"' in page
    assert f'action="{reject_url(withdrawal)}"' in page
    assert 'name="reason"' in page
    assert 'id="id_reason"' in page
    assert 'id="reject-button"' in page


@pytest.mark.parametrize("status", NOT_PENDING)
def test_a_reviewer_sees_neither_button_on_an_order_that_is_not_pending(withdrawal_in, reviewer_client, status):
    withdrawal = withdrawal_in(status)

    page = reviewer_client.get(change_url(withdrawal)).content.decode()

    assert 'id="review-panel"' in page
    assert 'id="approve-button"' not in page
    assert 'id="reject-button"' not in page
    assert 'class="review-refusal"' not in page


def test_an_auditor_sees_neither_button_on_a_pending_order(pending_for, staff_in, client_for):
    withdrawal = pending_for()

    page = client_for(staff_in("auditor")).get(change_url(withdrawal)).content.decode()

    assert 'id="review-panel"' in page
    assert 'id="approve-button"' not in page
    assert 'id="reject-button"' not in page
    assert "You may not approve withdrawals." in page


# 5. Four eyes


def test_a_large_order_needs_a_reviewer_then_a_supervisor_and_never_the_same_person_twice(
    pending_for, staff_in, client_for
):
    withdrawal = pending_for("9000.00", funds="12000.00")
    assert withdrawal.approvals_required == 2
    a, b, s = staff_in("finance_reviewer", "a"), staff_in("finance_reviewer", "b"), staff_in("finance_supervisor", "s")
    client_a, client_b, client_s = client_for(a), client_for(b), client_for(s)

    # Reviewer A gives the first approval: still pending, one of two
    first = client_a.post(approve_url(withdrawal))
    assert messages_of(first) == [
        ("success", f"{withdrawal.order_no}: your approval is recorded; a supervisor's is still needed.")
    ]
    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.PENDING
    (row,) = queue_rows(client_a.get(QUEUE))
    assert row["approval_state"] == f"Pending review 1 of 2 four eyes ✓ {a.username}"
    assert "four eyes 9,000 ≥ 8,000" in row["risk_reasons"]
    assert not transitions_of(withdrawal).filter(transition="approve").exists()

    # A again: refused
    before = state(withdrawal)
    again = client_a.post(approve_url(withdrawal))
    assert messages_of(again) == [
        (
            "error",
            f"You already approved {withdrawal.order_no}; the second approval must come from someone else.",
        )
    ]
    assert state(withdrawal) == before
    assert before["approvals"] == [a.pk]

    # Reviewer B, not a supervisor: refused
    second_by_reviewer = client_b.post(approve_url(withdrawal))
    assert messages_of(second_by_reviewer) == [
        ("error", f"The second approval of {withdrawal.order_no} must come from a finance supervisor.")
    ]
    assert state(withdrawal) == before

    # Supervisor S: approved
    second = client_s.post(approve_url(withdrawal))
    assert messages_of(second) == [("success", f"{withdrawal.order_no} is approved.")]
    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.APPROVED
    assert list(withdrawal.approvals.order_by("created_at", "id").values_list("actor", "as_supervisor")) == [
        (a.pk, False),
        (s.pk, True),
    ]
    log = transitions_of(withdrawal).get(transition="approve")
    assert (log.state, log.by) == ("approved", s)


def test_a_supervisor_may_give_the_first_approval_and_a_second_supervisor_completes_it(
    pending_for, staff_in, client_for
):
    withdrawal = pending_for("9000.00", funds="12000.00")
    s1, s2 = staff_in("finance_supervisor", "s1"), staff_in("finance_supervisor", "s2")

    client_for(s1).post(approve_url(withdrawal))
    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.PENDING
    refused = client_for(s1).post(approve_url(withdrawal))
    assert [level for level, _ in messages_of(refused)] == ["error"]
    client_for(s2).post(approve_url(withdrawal))

    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.APPROVED
    assert sorted(withdrawal.approvals.values_list("actor", flat=True)) == sorted([s1.pk, s2.pk])
    assert transitions_of(withdrawal).get(transition="approve").by == s2


def test_a_large_order_approved_first_by_a_supervisor_is_completed_by_a_reviewer(pending_for, staff_in, client_for):
    withdrawal = pending_for("9000.00", funds="12000.00")
    s, a = staff_in("finance_supervisor", "s"), staff_in("finance_reviewer", "a")

    first = client_for(s).post(approve_url(withdrawal))
    assert messages_of(first) == [
        ("success", f"{withdrawal.order_no}: your approval is recorded; a second person's is still needed.")
    ]
    page_a = client_for(a).get(change_url(withdrawal)).content.decode()
    assert 'id="approve-button"' in page_a
    second = client_for(a).post(approve_url(withdrawal))

    assert messages_of(second) == [("success", f"{withdrawal.order_no} is approved.")]
    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.APPROVED
    assert transitions_of(withdrawal).get(transition="approve").by == a


def test_the_page_of_a_large_order_tells_who_may_still_approve_it(pending_for, staff_in, client_for):
    withdrawal = pending_for("9000.00", funds="12000.00")
    a, b, s = staff_in("finance_reviewer", "a"), staff_in("finance_reviewer", "b"), staff_in("finance_supervisor", "s")
    client_for(a).post(approve_url(withdrawal))

    page_a = client_for(a).get(change_url(withdrawal)).content.decode()
    page_b = client_for(b).get(change_url(withdrawal)).content.decode()
    page_s = client_for(s).get(change_url(withdrawal)).content.decode()

    assert 'id="approve-button"' not in page_a
    assert f"You already approved {withdrawal.order_no}" in page_a
    assert 'id="approve-button"' not in page_b
    assert "must come from a finance supervisor" in page_b
    assert 'id="approve-button"' in page_s
    assert 'class="review-refusal"' not in page_s


def test_a_large_order_approved_once_can_still_be_rejected_and_its_money_released(pending_for, staff_in, client_for):
    withdrawal = pending_for("9000.00", funds="12000.00")
    a = staff_in("finance_reviewer", "a")
    client_for(a).post(approve_url(withdrawal))

    response = client_for(staff_in("finance_supervisor")).post(reject_url(withdrawal), {"reason": "fraud signals"})

    assert [level for level, _ in messages_of(response)] == ["success"]
    withdrawal.refresh_from_db()
    assert withdrawal.status == WithdrawalStatus.REJECTED
    assert available_of(withdrawal.user) == D("12000.00")


# 6. Bulk actions


def test_a_reviewer_approves_several_pending_orders_at_once(pending_for, reviewer, reviewer_client):
    withdrawals = [pending_for() for _ in range(3)]

    response = bulk(reviewer_client, "approve_selected", withdrawals)

    assert response.status_code == 302
    assert messages_of(response) == [("success", "3 approvals recorded.")]
    for withdrawal in withdrawals:
        withdrawal.refresh_from_db()
        assert withdrawal.status == WithdrawalStatus.APPROVED
        assert transitions_of(withdrawal).get(transition="approve").by == reviewer
    assert listed_order_nos(reviewer_client.get(QUEUE)) == []


def test_a_bulk_approval_from_a_list_of_every_status_approves_the_pending_ones_and_names_the_other(
    pending_for, withdrawal_in, reviewer_client
):
    first, approved, last = pending_for(), withdrawal_in("approved"), pending_for()
    before = state(approved)

    response = bulk(reviewer_client, "approve_selected", [first, approved, last], query=EVERY_STATUS)

    statuses = dict(Withdrawal.objects.filter(pk__in=[first.pk, approved.pk, last.pk]).values_list("pk", "status"))
    assert statuses == {first.pk: "approved", approved.pk: "approved", last.pk: "approved"}
    assert state(approved) == before
    assert messages_of(response) == [
        (
            "error",
            f"{approved.order_no}: Withdrawal {approved.order_no} is approved; "
            "only pending withdrawals can be approved.",
        ),
        ("success", "2 approvals recorded."),
    ]


def test_a_bulk_approval_from_a_stale_queue_approves_the_pending_ones_and_names_the_one_already_decided(
    pending_for, staff_in, reviewer_client
):
    # Given a reviewer's queue with three orders, the second of which a colleague then rejects
    first, stale, last = pending_for(), pending_for(), pending_for()
    assert listed_order_nos(reviewer_client.get(QUEUE)) == [first.order_no, stale.order_no, last.order_no]
    services.withdrawal_reject(withdrawal=stale, actor=staff_in("finance_reviewer"), reason="duplicate")
    before = state(stale)

    # When the reviewer ticks all three on the page they still have open and approves
    response = bulk(reviewer_client, "approve_selected", [first, stale, last])

    # Then the two pending ones are approved, the rejected one is untouched and named in an error
    statuses = dict(Withdrawal.objects.filter(pk__in=[first.pk, stale.pk, last.pk]).values_list("pk", "status"))
    assert statuses == {first.pk: "approved", stale.pk: "rejected", last.pk: "approved"}
    assert state(stale) == before
    messages = messages_of(response)
    assert ("success", "2 approvals recorded.") in messages
    errors = [text for level, text in messages if level == "error"]
    assert len(errors) == 1, messages
    assert stale.order_no in errors[0]


def test_a_bulk_approval_of_a_large_order_records_one_approval_and_leaves_it_pending(
    pending_for, reviewer, reviewer_client
):
    large = pending_for("9000.00", funds="12000.00")

    response = bulk(reviewer_client, "approve_selected", [large])

    assert messages_of(response) == [("success", "1 approval recorded.")]
    large.refresh_from_db()
    assert large.status == WithdrawalStatus.PENDING
    assert list(large.approvals.values_list("actor", flat=True)) == [reviewer.pk]
    again = bulk(reviewer_client, "approve_selected", [large])
    assert [level for level, _ in messages_of(again)] == ["error"]
    assert large.approvals.count() == 1


def test_a_bulk_rejection_asks_for_a_reason_then_rejects_all_and_releases_their_holds(
    pending_for, reviewer, reviewer_client
):
    withdrawals = [pending_for(), pending_for()]
    before = [state(withdrawal) for withdrawal in withdrawals]

    # First the reason page, which changes nothing
    page = bulk(reviewer_client, "reject_selected", withdrawals)
    assert page.status_code == 200
    content = page.content.decode()
    assert [t.name for t in page.templates][0] == "admin/payments/reason_action.html"
    assert all(withdrawal.order_no in content for withdrawal in withdrawals)
    assert '<textarea name="reason"' in content
    assert 'id="apply-button"' in content
    assert [state(withdrawal) for withdrawal in withdrawals] == before

    # Then the reason, submitted from that page
    response = reviewer_client.post(
        QUEUE,
        {
            "action": "reject_selected",
            "_selected_action": [withdrawal.pk for withdrawal in withdrawals],
            "reason": "Suspected account takeover.",
            "apply": "Reject",
        },
    )

    assert response.status_code == 302
    assert messages_of(response) == [("success", "2 withdrawals rejected.")]
    for withdrawal in withdrawals:
        withdrawal.refresh_from_db()
        assert withdrawal.status == WithdrawalStatus.REJECTED
        log = transitions_of(withdrawal).get(transition="reject")
        assert (log.by, log.description) == (reviewer, "Suspected account takeover.")
        assert Hold.objects.get(pk=withdrawal.hold_id).status == Hold.Status.RELEASED
        assert available_of(withdrawal.user) == D("10000.00")


def test_a_bulk_rejection_with_a_blank_reason_shows_the_reason_page_again_and_changes_nothing(
    pending_for, reviewer_client
):
    withdrawal = pending_for()
    before = state(withdrawal)

    response = reviewer_client.post(
        QUEUE, {"action": "reject_selected", "_selected_action": [withdrawal.pk], "reason": "  ", "apply": "Reject"}
    )

    assert response.status_code == 200
    assert 'id="apply-button"' in response.content.decode()
    assert "This field is required." in response.content.decode()
    assert state(withdrawal) == before


def test_a_bulk_rejection_leaves_an_order_that_is_not_pending_as_it_was_and_names_it(
    pending_for, withdrawal_in, reviewer_client
):
    pending, processing = pending_for(), withdrawal_in("processing")
    before = state(processing)

    response = reviewer_client.post(
        f"{QUEUE}?{EVERY_STATUS}",
        {
            "action": "reject_selected",
            "_selected_action": [pending.pk, processing.pk],
            "reason": "batch clean-up",
            "apply": "Reject",
        },
    )

    assert messages_of(response) == [
        ("error", f"{processing.order_no}: Withdrawal {processing.order_no} is processing; it cannot reject."),
        ("success", "1 withdrawal rejected."),
    ]
    pending.refresh_from_db()
    assert pending.status == WithdrawalStatus.REJECTED
    assert state(processing) == before


def test_the_queue_offers_the_bulk_actions_to_finance_staff(reviewer_client, pending_for):
    pending_for()

    page = reviewer_client.get(QUEUE).content.decode()

    assert 'value="approve_selected"' in page
    assert 'value="reject_selected"' in page


@pytest.mark.parametrize("group", ["auditor", "operations"])
def test_bulk_actions_are_not_offered_to_staff_who_may_not_approve_and_posting_them_changes_nothing(
    pending_for, staff_in, client_for, group
):
    withdrawal = pending_for()
    before = state(withdrawal)
    client = client_for(staff_in(group))

    page = client.get(QUEUE)
    approve = bulk(client, "approve_selected", [withdrawal])
    reject = client.post(
        QUEUE, {"action": "reject_selected", "_selected_action": [withdrawal.pk], "reason": "x", "apply": "Reject"}
    )

    assert page.status_code == 200
    assert 'value="approve_selected"' not in page.content.decode()
    assert 'value="reject_selected"' not in page.content.decode()
    # The admin ignores an action it does not offer and shows the list again.
    assert (approve.status_code, reject.status_code) == (200, 200)
    assert state(withdrawal) == before


def test_nobody_deletes_withdrawals_in_bulk(pending_for, superuser, client_for):
    withdrawal = pending_for()

    page = client_for(superuser).get(QUEUE).content.decode()

    assert 'value="delete_selected"' not in page
    assert Withdrawal.objects.filter(pk=withdrawal.pk).exists()


# 7. Nothing money-related is editable


@pytest.fixture
def money_rows(pending_for):
    """One row of each read-only payments model, and the state they must keep."""
    withdrawal = pending_for()
    transition = transitions_of(withdrawal).get()
    return {"withdrawal": withdrawal, "payoutaccount": withdrawal.payout_account, "withdrawaltransition": transition}


def payments_state(withdrawal: Withdrawal) -> tuple:
    account = PayoutAccount.objects.values().get(pk=withdrawal.payout_account_id)
    return state(withdrawal), account, StateLog.objects.count()


# Who may look at which read-only model (from the group permissions of the migrations).
MAY_VIEW = {
    "finance_reviewer": {"withdrawal", "payoutaccount", "withdrawaltransition"},
    "finance_supervisor": {"withdrawal", "payoutaccount", "withdrawaltransition"},
    "auditor": {"withdrawal", "payoutaccount", "withdrawaltransition"},
    "operations": {"withdrawal", "payoutaccount"},
    "superuser": {"withdrawal", "payoutaccount", "withdrawaltransition"},
}


@pytest.mark.parametrize("who", [*GROUPS, "superuser"])
@pytest.mark.parametrize("model", ["withdrawal", "payoutaccount", "withdrawaltransition"])
def test_nobody_adds_changes_or_deletes_withdrawals_payout_accounts_or_transitions(
    money_rows, user_in, client_for, who, model
):
    client = client_for(user_in(who))
    row = money_rows[model]
    withdrawal = money_rows["withdrawal"]
    before = payments_state(withdrawal)
    forged = {"status": "approved", "amount": "1.00", "fee": "0.00", "kind": "wechat_openid", "description": "x"}

    add_page = client.get(url(model, "add"))
    add = client.post(url(model, "add"), forged)
    change_page = client.get(url(model, "change", row.pk))
    change = client.post(url(model, "change", row.pk), forged)
    delete_page = client.get(url(model, "delete", row.pk))
    delete = client.post(url(model, "delete", row.pk), {"post": "yes"})
    changelist = client.get(url(model, "changelist"))

    assert (add_page.status_code, add.status_code, change.status_code) == (403, 403, 403)
    assert (delete_page.status_code, delete.status_code) == (403, 403)
    if model in MAY_VIEW[who]:
        assert change_page.status_code == 200
        for button in ('name="_save"', 'name="_continue"', 'name="_addanother"', 'class="deletelink"'):
            assert button not in change_page.content.decode()
        assert changelist.status_code == 200
        assert url(model, "add") not in changelist.content.decode()
        assert 'value="delete_selected"' not in changelist.content.decode()
    else:
        assert change_page.status_code == 403
        assert changelist.status_code == 403
    assert payments_state(withdrawal) == before


# 8. Exports


def export_link(client: Client, model: str, query: str = "") -> str:
    """The Export button of the changelist opened with ``query``."""
    response = client.get(f"{url(model, 'changelist')}?{query}")
    assert response.status_code == 200
    match = re.search(r'<a href="([^"]+)" class="export_link"', response.content.decode())
    assert match, "no Export button"
    return html.unescape(match.group(1))


RESOURCES: dict[str, type[ModelResource]] = {
    "withdrawal": WithdrawalResource,
    "withdrawaltransition": WithdrawalTransitionResource,
}


def export(client: Client, export_url: str, model: str, file_format: str):
    """Submit the export form with every column selected, as the browser would."""
    resource = RESOURCES[model]
    data = {"format": FORMATS[file_format], "resource": "0"}
    data |= {f"{resource.__name__.lower()}_{name}": "on" for name in resource().get_export_order()}
    return client.post(export_url, data)


def rows_of(response, file_format: str) -> tuple[list[str], list[dict]]:
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    return export_table(response.getvalue(), file_format)


@pytest.fixture
def decided(pending_for, reviewer):
    """An order the reviewer approved and one they rejected with a reason."""
    approved = services.withdrawal_approve(withdrawal=pending_for(username="payee1"), actor=reviewer)
    rejected = services.withdrawal_reject(
        withdrawal=pending_for(username="payee2"), actor=reviewer, reason="Name does not match."
    )
    return approved, rejected


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_an_auditor_exports_the_withdrawals_with_amounts_local_times_and_masked_payout_accounts(
    decided, staff_in, client_for, file_format
):
    approved, rejected = decided
    client = client_for(staff_in("auditor"))
    export_url = export_link(client, "withdrawal", EVERY_STATUS)

    response = export(client, export_url, "withdrawal", file_format)

    header, rows = rows_of(response, file_format)
    assert header == list(WithdrawalResource().get_export_order())
    by_order = {row["order_no"]: row for row in rows}
    assert set(by_order) == {approved.order_no, rejected.order_no}
    row = by_order[approved.order_no]
    assert (row["user"], row["amount"], row["fee"], row["actual_amount"]) == ("payee1", "6000.00", "5.00", "5995.00")
    assert (row["currency"], row["status"], row["channel"]) == ("CNY", "approved", "bank")
    assert row["payout_account"] == f"ICBC **** {CARD_NUMBER[-4:]}"
    assert (row["risk_outcome"], row["approvals_required"]) == ("review", "1")
    assert row["approved_at"] == timezone.localtime(approved.approved_at).strftime("%Y-%m-%d %H:%M:%S")
    assert by_order[rejected.order_no]["status_reason"] == "Name does not match."
    cells = [str(value) for row in rows for value in row.values()]
    assert not [cell for cell in cells if CARD_NUMBER in cell or HOLDER_NAME in cell]


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_the_withdrawal_export_names_the_risk_reasons_and_who_approved_when(
    decided, reviewer, staff_in, client_for, file_format
):
    approved, rejected = decided
    client = client_for(staff_in("auditor"))
    export_url = export_link(client, "withdrawal", EVERY_STATUS)

    _, rows = rows_of(export(client, export_url, "withdrawal", file_format), file_format)

    by_order = {row["order_no"]: row for row in rows}
    approval = approved.approvals.get()
    assert by_order[approved.order_no]["risk_reasons"] == REVIEW_REASON
    assert by_order[approved.order_no]["approvals"] == (
        f"reviewer1 {timezone.localtime(approval.created_at).strftime('%Y-%m-%d %H:%M:%S')}"
    )
    assert by_order[rejected.order_no]["risk_reasons"] == REVIEW_REASON
    assert by_order[rejected.order_no]["approvals"] == ""


def test_the_withdrawal_export_costs_the_same_queries_for_two_orders_as_for_six(
    decided, pending_for, reviewer, staff_in, client_for
):
    client = client_for(staff_in("auditor"))
    export_url = export_link(client, "withdrawal", EVERY_STATUS)
    with CaptureQueriesContext(connection) as two:
        rows_of(export(client, export_url, "withdrawal", "csv"), "csv")
    for number in range(4):
        services.withdrawal_approve(withdrawal=pending_for(username=f"more{number}"), actor=reviewer)

    with CaptureQueriesContext(connection) as six:
        _, rows = rows_of(export(client, export_url, "withdrawal", "csv"), "csv")

    assert len(rows) == 6
    assert len(six.captured_queries) == len(two.captured_queries)


def test_the_withdrawal_export_holds_only_the_rows_of_the_active_filter(decided, staff_in, client_for):
    approved, rejected = decided
    client = client_for(staff_in("auditor"))

    export_url = export_link(client, "withdrawal", "status=rejected")
    _, rows = rows_of(export(client, export_url, "withdrawal", "csv"), "csv")

    assert [row["order_no"] for row in rows] == [rejected.order_no]


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_an_auditor_exports_the_transition_log_with_order_numbers_actors_and_reasons(
    decided, staff_in, client_for, file_format
):
    approved, rejected = decided
    client = client_for(staff_in("auditor"))
    export_url = export_link(client, "withdrawaltransition")

    header, rows = rows_of(export(client, export_url, "withdrawaltransition", file_format), file_format)

    assert header == ["timestamp", "order_no", "transition", "source_state", "state", "by", "description"]
    log = sorted(
        (row["order_no"], row["transition"], row["source_state"], row["state"], row["by"], row["description"])
        for row in rows
    )
    assert log == sorted(
        [
            (approved.order_no, "submit", "", "pending", "payee1", "risk: review"),
            (approved.order_no, "approve", "pending", "approved", "reviewer1", ""),
            (rejected.order_no, "submit", "", "pending", "payee2", "risk: review"),
            (rejected.order_no, "reject", "pending", "rejected", "reviewer1", "Name does not match."),
        ]
    )
    assert all(re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$", row["timestamp"]) for row in rows)


@pytest.mark.parametrize("group", ["finance_reviewer", "finance_supervisor", "operations"])
@pytest.mark.parametrize("model", ["withdrawal", "withdrawaltransition"])
def test_staff_other_than_auditors_cannot_export(decided, staff_in, client_for, group, model):
    client = client_for(staff_in(group))
    export_url = url(model, "export")

    changelist = client.get(url(model, "changelist"))

    assert changelist.status_code in (200, 403)
    assert "export_link" not in changelist.content.decode()
    assert client.get(export_url).status_code == 403
    assert export(client, export_url, model, "csv").status_code == 403


def test_nothing_in_the_payments_admin_can_be_imported():
    from django.urls import NoReverseMatch

    for model in ("withdrawal", "withdrawaltransition", "payoutaccount", "channel"):
        with pytest.raises(NoReverseMatch):
            url(model, "import")


# 9. No sensitive data in the admin


@pytest.fixture
def card_and_wechat_orders(make_user, funded_account, submit, card_account, wechat_account):
    card_user, wechat_user = make_user("carduser"), make_user("wechatuser")
    funded_account(card_user, "10000.00")
    funded_account(wechat_user, "10000.00")
    card = submit(card_user, "6000.00", payout_account=card_account(card_user, holder_name=HOLDER_NAME))
    wechat = submit(wechat_user, "6000.00", payout_account=wechat_account(wechat_user))
    return card, wechat


def assert_nothing_sensitive(page: str) -> None:
    spaced = " ".join(CARD_NUMBER[i : i + 4] for i in range(0, len(CARD_NUMBER), 4))
    for secret in (CARD_NUMBER, spaced, OPENID, HOLDER_NAME):
        assert secret not in page, f"{secret!r} is on the page"


@pytest.mark.parametrize("who", ["finance_reviewer", "auditor", "superuser"])
def test_admin_pages_show_payout_accounts_masked_never_the_card_number_openid_or_holder_name(
    card_and_wechat_orders, user_in, client_for, who
):
    card, wechat = card_and_wechat_orders
    client = client_for(user_in(who))
    pages = {
        "queue": client.get(QUEUE),
        "card order": client.get(change_url(card)),
        "wechat order": client.get(change_url(wechat)),
        "payout accounts": client.get(url("payoutaccount", "changelist")),
        "card account": client.get(url("payoutaccount", "change", card.payout_account_id)),
        "wechat account": client.get(url("payoutaccount", "change", wechat.payout_account_id)),
        "transitions": client.get(url("withdrawaltransition", "changelist")),
    }

    for name, response in pages.items():
        assert response.status_code == 200, name
        assert_nothing_sensitive(response.content.decode())
    masked_card = f"**** {CARD_NUMBER[-4:]}"
    masked_openid = f"{OPENID[:3]}***{OPENID[-3:]}"
    assert masked_card in pages["card order"].content.decode()
    assert "张*" in pages["card order"].content.decode()
    assert masked_openid in pages["wechat order"].content.decode()
    accounts = pages["payout accounts"].content.decode()
    assert masked_card in accounts
    assert masked_openid in accounts
    assert "张*" in accounts
    assert masked_card in pages["card account"].content.decode()


def test_the_payout_account_search_finds_an_account_by_its_full_number_through_the_blind_index(
    card_and_wechat_orders, reviewer_client
):
    card, wechat = card_and_wechat_orders

    def found(term: str) -> list[int]:
        response = reviewer_client.get(url("payoutaccount", "changelist"), {"q": term})
        assert response.status_code == 200
        return [account.pk for account in response.context["cl"].result_list]

    spaced = " ".join(CARD_NUMBER[i : i + 4] for i in range(0, len(CARD_NUMBER), 4))
    assert found(CARD_NUMBER) == [card.payout_account_id]
    assert found(spaced) == [card.payout_account_id]
    assert found(OPENID) == [wechat.payout_account_id]
    assert found("carduser") == [card.payout_account_id]
    assert found(OTHER_CARD_NUMBER) == []
    assert found(CARD_NUMBER[-4:]) == []
    assert found(CARD_NUMBER[:-1]) == []


# 10. The payout account blocklist


def blocklist(client: Client, accounts, **extra):
    data = {"action": "blocklist_selected", "_selected_action": [account.pk for account in accounts], **extra}
    return client.post(url("payoutaccount", "changelist"), data)


@pytest.mark.parametrize("who", ["operations", "superuser"])
def test_blocklisting_a_payout_account_asks_for_a_reason_and_then_refuses_withdrawals_to_it(
    make_user, funded_account, card_account, submit, user_in, client_for, who
):
    # Given a customer's bound card
    customer = make_user("customer")
    funded_account(customer, "10000.00")
    account = card_account(customer)
    staff = user_in(who)
    client = client_for(staff)

    # When staff choose the blocklist action: first the reason page, which blocks nothing
    page = blocklist(client, [account], index="0")
    assert page.status_code == 200
    assert 'id="apply-button"' in page.content.decode()
    assert '<textarea name="reason"' in page.content.decode()
    assert_nothing_sensitive(page.content.decode())
    assert not BlocklistEntry.objects.exists()

    # Then with a reason
    response = blocklist(client, [account], reason="Reported stolen by the bank.", apply="Blocklist")

    assert response.status_code == 302
    assert messages_of(response) == [("success", "1 payout account is on the blocklist.")]
    entry = BlocklistEntry.objects.get()
    assert (entry.kind, entry.fingerprint, entry.user, entry.active) == (
        BlocklistEntry.Kind.PAYOUT_ACCOUNT,
        account.lookup_index,
        None,
        True,
    )
    assert (entry.label, entry.reason, entry.created_by) == (account.display, "Reported stolen by the bank.", staff)
    assert CARD_NUMBER not in entry.label

    # And a new withdrawal to that account is refused by risk control, as is one to the same
    # card bound by another user
    with pytest.raises(RiskRejected) as refused:
        submit(customer, "100.00", payout_account=account)
    assert refused.value.code == "risk_rejected"
    other = make_user("other")
    funded_account(other, "10000.00")
    with pytest.raises(RiskRejected):
        submit(other, "100.00", payout_account=card_account(other))
    assert not Withdrawal.objects.exists()


def test_blocklisting_without_a_reason_blocks_nothing(card_account, make_user, staff_in, client_for):
    account = card_account(make_user())

    response = blocklist(client_for(staff_in("operations")), [account], reason=" ", apply="Blocklist")

    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert not BlocklistEntry.objects.exists()


@pytest.mark.parametrize("group", ["finance_reviewer", "auditor"])
def test_the_blocklist_action_is_offered_only_to_staff_who_may_add_to_the_blocklist(
    card_account, make_user, staff_in, client_for, group
):
    account = card_account(make_user())
    client = client_for(staff_in(group))

    page = client.get(url("payoutaccount", "changelist"))
    blocklist(client, [account], reason="nope", apply="Blocklist")

    assert page.status_code == 200
    assert 'value="blocklist_selected"' not in page.content.decode()
    assert not BlocklistEntry.objects.exists()


def test_operations_see_the_blocklist_action(card_account, make_user, staff_in, client_for):
    card_account(make_user())

    page = client_for(staff_in("operations")).get(url("payoutaccount", "changelist"))

    assert 'value="blocklist_selected"' in page.content.decode()
