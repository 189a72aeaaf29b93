"""The payout pipeline's metrics as Prometheus scrapes them from ``/metrics``."""

import pytest
from prometheus_client.parser import text_string_to_metric_families

from payments.channels.base import PayoutResult, PayoutState
from payments.withdrawals import payouts
from payments.withdrawals.models import WithdrawalStatus

pytestmark = pytest.mark.django_db


def scraped(client, name: str, **labels: str) -> float:
    body = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


def test_a_failed_payout_moves_the_finished_counter_once_even_when_the_channel_says_it_twice(client, withdrawal_in):
    # Given a withdrawal sent to its channel
    withdrawal = withdrawal_in(WithdrawalStatus.PROCESSING)
    before = scraped(client, "wallet_withdrawals_finished_total", status="failed", reason="ACCOUNT_FROZEN")

    # When the channel answers that it failed, and then says so again
    answer = PayoutResult(PayoutState.FAILED, "", "ACCOUNT_FROZEN", "frozen")
    payouts.payout_result_apply(withdrawal=withdrawal, result=answer)
    withdrawal.refresh_from_db()
    payouts.payout_result_apply(withdrawal=withdrawal, result=answer)

    # Then the scrape counts one failure with the channel's reason
    assert withdrawal.status == WithdrawalStatus.FAILED
    assert scraped(client, "wallet_withdrawals_finished_total", status="failed", reason="ACCOUNT_FROZEN") == before + 1


def test_a_successful_payout_is_timed_from_its_approval(client, withdrawal_in):
    withdrawal = withdrawal_in(WithdrawalStatus.PROCESSING)
    before = scraped(client, "wallet_payout_latency_seconds_count")

    payouts.payout_result_apply(withdrawal=withdrawal, result=PayoutResult(PayoutState.SUCCESS, "CH-9"))

    assert scraped(client, "wallet_payout_latency_seconds_count") == before + 1


def test_the_review_queue_and_withdrawals_by_status_are_read_at_scrape_time(client, withdrawal_in):
    # Given two withdrawals waiting for review and one approved
    withdrawal_in(WithdrawalStatus.PENDING)
    withdrawal_in(WithdrawalStatus.PENDING)
    withdrawal_in(WithdrawalStatus.APPROVED)

    # Then the scrape reads them from the database, and says the database and broker answered
    assert scraped(client, "wallet_review_queue_size", queue="withdrawals") == 2
    assert scraped(client, "wallet_review_queue_oldest_age_seconds", queue="withdrawals") >= 0
    assert scraped(client, "wallet_withdrawals", status="pending") == 2
    assert scraped(client, "wallet_withdrawals", status="approved") == 1
    assert scraped(client, "wallet_dependency_up", dependency="database") == 1
    assert scraped(client, "wallet_dependency_up", dependency="broker") == 1
