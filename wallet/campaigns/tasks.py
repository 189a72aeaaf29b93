"""Celery tasks of campaigns: thin wrappers around the crediting and recount services."""

from celery import shared_task

from wallet.campaigns import selectors, services


@shared_task(name=services.CREDIT_TASK)
def campaign_rewards_credit() -> int:
    """Credit pending rewards in batches (queued on commit of accepts, one at a time)."""
    services.rewards_credit_started()
    return services.rewards_credit_pending().count


@shared_task(name="wallet.campaign_rewards_sweep")
def campaign_rewards_sweep() -> int:
    """Every minute: credit what is pending, in case a credit task's message was lost."""
    return services.rewards_credit_pending().count


@shared_task(name="wallet.campaign_budgets_recount")
def campaign_budgets_recount() -> int:
    """Hourly: rebuild each open campaign's budget counter from its rewards (an accept killed
    between its reservation and its rollback leaves the counter too high, never too low)."""
    campaigns = list(selectors.campaigns_to_recount().values_list("pk", flat=True))
    for campaign_id in campaigns:
        services.campaign_budget_recount(campaign_id=campaign_id)
    return len(campaigns)
