"""Every withdrawal status answers a status code and a message the client can show, in English
and in Simplified Chinese (payments.withdrawals.reasons, docs/WITHDRAWALS.md)."""

import pytest
from django.utils import translation

from payments.withdrawals import services
from payments.withdrawals.models import WithdrawalStatus

pytestmark = pytest.mark.django_db

EXPECTED = {
    WithdrawalStatus.PENDING: (
        "under_review",
        "Under review by finance; the amount is reserved in your wallet.",
        "财务审核中，金额已在您的钱包中冻结。",
    ),
    WithdrawalStatus.APPROVED: (
        "awaiting_payout",
        "Approved; waiting to be sent to the payout channel.",
        "已批准，等待发送至出款渠道。",
    ),
    WithdrawalStatus.PROCESSING: (
        "processing",
        "Sent to the payout channel; waiting for it to confirm the payment.",
        "已发送至出款渠道，等待渠道确认付款。",
    ),
    WithdrawalStatus.SUCCESS: ("paid", "Paid out to your payout account.", "已付至您的收款账户。"),
    WithdrawalStatus.FAILED: (
        "payout_failed",
        "The payout channel could not pay it; the amount is back in your wallet.",
        "出款渠道未能付款，金额已退回您的钱包。",
    ),
    WithdrawalStatus.REJECTED: (
        "rejected",
        "Rejected by review; the amount is back in your wallet.",
        "审核未通过，金额已退回您的钱包。",
    ),
    WithdrawalStatus.CANCELLED: (
        "cancelled",
        "Cancelled; the amount is back in your wallet.",
        "已取消，金额已退回您的钱包。",
    ),
    WithdrawalStatus.REFUNDED: (
        "returned",
        "The payment came back from the payout account; the amount is back in your wallet.",
        "款项被收款账户退回，金额已退回您的钱包。",
    ),
}


def read(client, order_no: str, language: str) -> dict:
    """The withdrawal as the API answers a client asking in ``language``."""
    with translation.override(language):
        return client.get(f"/api/v1/withdrawals/{order_no}/", HTTP_ACCEPT_LANGUAGE=language).json()


@pytest.mark.parametrize("status", list(EXPECTED))
def test_each_status_has_a_code_and_a_message_in_both_languages(status, withdrawal_in, api_client_for):
    withdrawal = withdrawal_in(status)
    assert withdrawal.status == status
    client = api_client_for(withdrawal.user)
    code, english, chinese = EXPECTED[status]

    in_english = read(client, withdrawal.order_no, "en")
    in_chinese = read(client, withdrawal.order_no, "zh-hans")

    assert (in_english["status"], in_english["status_code"], in_english["status_message"]) == (status, code, english)
    assert (in_chinese["status_code"], in_chinese["status_message"]) == (code, chinese)


def test_a_four_eyes_withdrawal_approved_once_waits_for_the_second_approval(
    make_user, funded_account, submit, staff_in, api_client_for
):
    user = make_user()
    funded_account(user, "20000.00")
    withdrawal = submit(user, "9000.00")
    assert (withdrawal.status, withdrawal.approvals_required) == (WithdrawalStatus.PENDING, 2)
    client = api_client_for(user)
    assert read(client, withdrawal.order_no, "en")["status_code"] == "under_review"

    services.withdrawal_approve(withdrawal=withdrawal, actor=staff_in("finance_reviewer"))

    in_english = read(client, withdrawal.order_no, "en")
    in_chinese = read(client, withdrawal.order_no, "zh-hans")
    assert (in_english["status"], in_english["status_code"]) == ("pending", "awaiting_second_approval")
    assert in_english["status_message"] == "Approved once; waiting for a second approval."
    assert in_chinese["status_message"] == "已通过一次审批，等待第二次审批。"


def test_the_list_reads_the_approvals_of_a_page_in_one_query(
    make_user, funded_account, submit, staff_in, api_client_for, django_assert_num_queries
):
    user = make_user()
    funded_account(user, "40000.00")
    for _ in range(3):
        services.withdrawal_approve(withdrawal=submit(user, "9000.00"), actor=staff_in("finance_reviewer"))
    client = api_client_for(user)

    # token auth, the page, its approvals
    with django_assert_num_queries(3):
        page = client.get("/api/v1/withdrawals/").json()["results"]

    assert [row["status_code"] for row in page] == ["awaiting_second_approval"] * 3
