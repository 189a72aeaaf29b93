"""Every write of campaigns: the campaigns themselves, accepting rewards, crediting them in
batches, and a user's settle (docs/WALLET.md, "Campaign income").

Accepting is cheap and never locks a row: it inserts the reward ``pending`` and reserves its
amount on the campaign's budget counter (wallet.campaigns.budget). Crediting claims pending
rewards in id order with SKIP LOCKED and pays them with one balanced transfer per batch (the
campaign's hot account is never locked; each user gets one leg with the sum of their rewards),
marking them credited in the same transaction. A user's settle does the same for their own
rewards, waiting for those a batch holds.
"""

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import can_proceed

from wallet import errors
from wallet import selectors as wallet_selectors
from wallet import services as ledger
from wallet.campaigns import budget, locks, selectors
from wallet.campaigns.models import NAME_MAX_LENGTH, TOKEN_MAX_LENGTH, Campaign, Reward
from wallet.models import Account
from wallet.money import ZERO, is_positive_cents
from wallet.task_queue import task_enqueue

CREDIT_TASK = "wallet.campaign_rewards_credit"
TRANSFER_KIND = "campaign_reward"
# Rewards per crediting transaction: one transfer with a leg per user (docs/PERFORMANCE.md).
BATCH_SIZE = 500
# Batches one credit task runs before it hands over to a fresh task (others' work interleaves).
BATCHES_PER_TASK = 40
# While a credit task waits in the queue, accepts do not queue another (coalescing); past this
# the marker expires, so a lost message costs at most this long (and the sweep runs each minute).
CREDIT_QUEUED_MARKER = "campaigns:credit-queued"
CREDIT_QUEUED_SECONDS = 60
# A counter rebuilt meanwhile by another accept is found on the next try.
ACCEPT_ATTEMPTS = 3

_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
_TOKEN = re.compile(r"^[!-~]+$")


@dataclass(frozen=True)
class Acceptance:
    reward: Reward
    created: bool


@dataclass(frozen=True)
class Credited:
    count: int
    amount: Decimal


@dataclass(frozen=True)
class Settlement:
    count: int
    amount: Decimal
    balance: Decimal
    available: Decimal


# Campaigns -----------------------------------------------------------------------------------


# Opening and changing a campaign move no money and run inside the admin's own transaction
# (its add and change views are atomic), so they are not durable.
@transaction.atomic
def campaign_create(
    *, name: str, title: str, budget_amount: Decimal, starts_at: datetime, ends_at: datetime, actor: User
) -> Campaign:
    """A new active campaign with its account ``campaign:<name>`` (hot: never row-locked)."""
    campaign_name_check(name=name)
    campaign_terms_check(title=title, budget_amount=budget_amount, starts_at=starts_at, ends_at=ends_at)
    account = ledger.account_for_system(code=f"campaign:{name}")
    return Campaign.objects.create(
        name=name, title=title.strip(), account=account, budget=budget_amount, starts_at=starts_at, ends_at=ends_at
    )


@transaction.atomic
def campaign_change(
    *, campaign: Campaign, title: str, budget_amount: Decimal, starts_at: datetime, ends_at: datetime, actor: User
) -> Campaign:
    """New title, budget or window. A budget below what was accepted stops new rewards only."""
    campaign_terms_check(title=title, budget_amount=budget_amount, starts_at=starts_at, ends_at=ends_at)
    campaign = locks.campaign_lock(campaign.pk)
    campaign.title, campaign.budget = title.strip(), budget_amount
    campaign.starts_at, campaign.ends_at = starts_at, ends_at
    campaign.save(update_fields=["title", "budget", "starts_at", "ends_at", "updated_at"])
    return campaign


def campaign_pause(*, campaign: Campaign, actor: User, reason: str = "") -> Campaign:
    return _campaign_transition(campaign, "pause", actor=actor, reason=reason)


def campaign_resume(*, campaign: Campaign, actor: User, reason: str = "") -> Campaign:
    return _campaign_transition(campaign, "resume", actor=actor, reason=reason)


def campaign_end(*, campaign: Campaign, actor: User, reason: str = "") -> Campaign:
    return _campaign_transition(campaign, "end", actor=actor, reason=reason)


@transaction.atomic(durable=True)
def _campaign_transition(campaign: Campaign, name: str, *, actor: User, reason: str) -> Campaign:
    campaign = locks.campaign_lock(campaign.pk)
    method = getattr(campaign, name)
    if not can_proceed(method):
        raise errors.Conflict(
            _("Campaign %(name)s is %(status)s; it cannot %(action)s.")
            % {"name": campaign.name, "status": campaign.status, "action": name},
            fields={"status": campaign.status},
        )
    method(by=actor, description=reason)
    campaign.save(update_fields=["status", "updated_at"])
    return campaign


def campaign_name_check(*, name: str) -> None:
    """A name fit for an account code and not taken (the admin's form asks first)."""
    if not _NAME.match(name or "") or len(name) > NAME_MAX_LENGTH:
        raise errors.ValidationFailed(
            _("A campaign name is 1 to %(name_max_length)s lowercase letters, digits and dashes.")
            % {"name_max_length": NAME_MAX_LENGTH},
            fields={"name": "invalid"},
        )
    if Campaign.objects.filter(name=name).exists():
        raise errors.ValidationFailed(
            _("A campaign named %(name)s exists.") % {"name": repr(name)}, fields={"name": "taken"}
        )


def campaign_terms_check(*, title: str, budget_amount: Decimal, starts_at: datetime, ends_at: datetime) -> None:
    """Title, budget and window as a campaign needs them (the admin's form asks first)."""
    if not (title or "").strip():
        raise errors.ValidationFailed(_("A campaign needs a title."), fields={"title": "required"})
    if not is_positive_cents(budget_amount):
        raise errors.ValidationFailed(_("The budget must be a positive amount in cents."), fields={"budget": "invalid"})
    if ends_at <= starts_at:
        raise errors.ValidationFailed(_("The campaign must end after it starts."), fields={"ends_at": "before_start"})


@transaction.atomic(durable=True)
def campaign_budget_recount(*, campaign_id: int) -> Decimal:
    """Rebuild the campaign's budget counter from its rewards; waits for the accepts in flight."""
    locks.budget_exclusive_lock(campaign_id)
    total = selectors.campaign_accepted_total(campaign_id=campaign_id)
    budget.counter_set(campaign_id=campaign_id, total=total)
    return total


# Accepting rewards ---------------------------------------------------------------------------


def reward_accept(*, campaign_name: str, user: User, amount: Decimal, token: str) -> Acceptance:
    """Accept a reward ``pending``; crediting follows (queued on commit).

    The token is the reward's idempotency key, forever: the same token with the same campaign,
    user and amount is the same reward again (``created`` false); with anything else it is an
    ``IdempotencyConflict``. A reward that would take the campaign past its budget is refused
    with ``BudgetExhausted`` and changes nothing.
    """
    if not token or len(token) > TOKEN_MAX_LENGTH or not _TOKEN.match(token):
        raise errors.ValidationFailed(
            _("A reward token is 1 to %(token_max_length)s visible ASCII characters.")
            % {"token_max_length": TOKEN_MAX_LENGTH},
            fields={"token": "invalid"},
        )
    if not is_positive_cents(amount):
        raise errors.ValidationFailed(_("The amount must be a positive amount in cents."), fields={"amount": "invalid"})
    try:
        campaign = Campaign.objects.get(name=campaign_name)
    except Campaign.DoesNotExist:
        raise errors.ValidationFailed(_("No such campaign."), fields={"campaign": "not_found"}) from None
    replay = _reward_replay(token=token, campaign=campaign, user=user, amount=amount)
    if replay is not None:
        return replay
    now = timezone.now()
    if campaign.status != Campaign.Status.ACTIVE or not campaign.starts_at <= now < campaign.ends_at:
        raise errors.CampaignNotActive(
            _("Campaign %(name)s does not accept rewards now.") % {"name": campaign.name},
            fields={"campaign": campaign.status},
        )
    for _attempt in range(ACCEPT_ATTEMPTS):
        try:
            reward = _accept_once(campaign=campaign, user=user, amount=amount, token=token)
        except budget.CounterMissing:
            campaign_budget_recount(campaign_id=campaign.pk)
            continue
        if reward is None:
            # The same token committed by a concurrent request meanwhile.
            replay = _reward_replay(token=token, campaign=campaign, user=user, amount=amount)
            if replay is None:
                raise errors.Conflict(_("The reward token was taken and released meanwhile; try again."))
            return replay
        return Acceptance(reward=reward, created=True)
    raise errors.Conflict(_("The campaign's budget counter could not be rebuilt; try again."))


@transaction.atomic(durable=True)
def _accept_once(*, campaign: Campaign, user: User, amount: Decimal, token: str) -> Reward | None:
    """Insert, then reserve; the reward, or None if the token was taken meanwhile.

    The insert comes first: a concurrent request with the same token waits on the token's
    unique index and then replays, without reserving anything. The reservation is the last step
    before commit, under the shared budget lock (wallet.campaigns.budget); a refusal rolls the
    insert back.
    """
    locks.budget_share_lock(campaign.pk)
    reward = _reward_insert(campaign=campaign, user=user, amount=amount, token=token)
    if reward is None:
        return None
    if not budget.reservation_take(campaign_id=campaign.pk, amount=amount, budget=campaign.budget):
        raise errors.BudgetExhausted(
            _("Campaign %(name)s cannot pay %(amount)s more.") % {"name": campaign.name, "amount": amount},
            fields={"amount": "budget_exhausted"},
        )
    transaction.on_commit(rewards_credit_enqueue, robust=True)
    return reward


def _reward_insert(*, campaign: Campaign, user: User, amount: Decimal, token: str) -> Reward | None:
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO wallet_reward (token, campaign_id, user_id, amount, status, created_at)
            VALUES (%s, %s, %s, %s, 'pending', %s)
            ON CONFLICT (token) DO NOTHING
            RETURNING id
            """,
            [token, campaign.pk, user.pk, amount, now],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    return Reward(
        pk=row[0],
        token=token,
        campaign=campaign,
        user=user,
        amount=amount,
        status=Reward.Status.PENDING,
        created_at=now,
    )


def _reward_replay(*, token: str, campaign: Campaign, user: User, amount: Decimal) -> Acceptance | None:
    # get(), not first(): first() orders by id, and the planner may then walk the primary key
    # instead of the token's unique index.
    try:
        previous = Reward.objects.select_related("campaign", "user").get(token=token)
    except Reward.DoesNotExist:
        return None
    if previous.campaign_id != campaign.pk or previous.user_id != user.pk or previous.amount != amount:
        raise errors.IdempotencyConflict(
            _("The reward token %(token)s was already used for a different reward.") % {"token": repr(token)},
            fields={"token": "reused"},
        )
    return Acceptance(reward=previous, created=False)


# Crediting -----------------------------------------------------------------------------------


def rewards_credit_enqueue() -> None:
    """Queue one credit task unless one is waiting already (many accepts, one task)."""
    if cache.add(CREDIT_QUEUED_MARKER, 1, timeout=CREDIT_QUEUED_SECONDS):
        task_enqueue(CREDIT_TASK)


def rewards_credit_started() -> None:
    """A credit task started: accepts from now on queue the next one."""
    cache.delete(CREDIT_QUEUED_MARKER)


def rewards_credit_pending(*, max_batches: int = BATCHES_PER_TASK, batch_size: int = BATCH_SIZE) -> Credited:
    """Credit batches until none is full or ``max_batches`` ran; then, if more may wait, queue
    a fresh task for them."""
    count, amount = 0, ZERO
    for _batch in range(max_batches):
        credited = rewards_credit_batch(limit=batch_size)
        count, amount = count + credited.count, amount + credited.amount
        if credited.count < batch_size:
            return Credited(count=count, amount=amount)
    rewards_credit_enqueue()
    return Credited(count=count, amount=amount)


@transaction.atomic(durable=True)
def rewards_credit_batch(*, limit: int = BATCH_SIZE) -> Credited:
    """Claim up to ``limit`` pending rewards (skipping those others hold) and credit them."""
    return _credit(locks.pending_rewards_claim(limit=limit))


def rewards_settle(*, user: User) -> Settlement:
    """Credit every pending reward of the user now (``rewards_credit_for_user``) and answer
    what that was and the balance after, which holds every reward accepted before the call."""
    credited = rewards_credit_for_user(user=user)
    summary = wallet_selectors.wallet_summary(user=user)
    return Settlement(
        count=credited.count, amount=credited.amount, balance=summary.balance, available=summary.available
    )


def rewards_credit_for_user(*, user: User) -> Credited:
    """Credit the user's pending rewards, waiting for those a batch holds. The withdrawal
    submit calls it first: one read when nothing is pending (a reward a batch is crediting
    still reads pending until it commits, so it is waited for, not missed)."""
    if not selectors.user_has_pending_rewards(user_id=user.pk):
        return Credited(count=0, amount=ZERO)
    with transaction.atomic(durable=True):
        return _credit(locks.user_pending_rewards_lock(user_id=user.pk))


def _credit(rewards: Sequence[Reward]) -> Credited:
    """Pay locked pending rewards with one transfer: each campaign's account is debited its sum,
    each user's wallet credited theirs; the rewards are marked credited with it."""
    if not rewards:
        return Credited(count=0, amount=ZERO)
    by_campaign: dict[int, Decimal] = defaultdict(Decimal)
    by_user: dict[int, Decimal] = defaultdict(Decimal)
    for reward in rewards:
        by_campaign[reward.campaign_id] += reward.amount
        by_user[reward.user_id] += reward.amount
    campaigns = {
        pk: (title, account_id)
        for pk, title, account_id in Campaign.objects.filter(pk__in=by_campaign).values_list(
            "pk", "title", "account_id"
        )
    }
    wallets = _user_wallets(list(by_user))
    legs = [ledger.Leg(campaigns[pk][1], -total) for pk, total in by_campaign.items()]
    legs += [ledger.Leg(wallets[user_id], total) for user_id, total in by_user.items()]
    ids = sorted(reward.pk for reward in rewards)
    # A committed batch's rewards are credited and never claimed again, so its first reward
    # names it for good.
    transfer = ledger.transfer_post(
        idempotency_key=f"campaign-rewards:{ids[0]}",
        kind=TRANSFER_KIND,
        legs=legs,
        memo=", ".join(sorted(campaigns[pk][0] for pk in by_campaign))[:255],
        reference=f"rewards:{ids[0]}-{ids[-1]}",
    )
    Reward.objects.filter(pk__in=ids).update(
        status=Reward.Status.CREDITED, transfer_id=transfer.pk, credited_at=transfer.created_at
    )
    return Credited(count=len(ids), amount=sum(by_campaign.values(), ZERO))


def _user_wallets(user_ids: list[int]) -> dict[int, int]:
    """``{user id: wallet account id}``, creating the wallets of users who have none yet."""
    wallets = dict(
        Account.objects.filter(owner_id__in=user_ids, kind=Account.Kind.USER, currency="CNY").values_list(
            "owner_id", "pk"
        )
    )
    for user_id in set(user_ids) - set(wallets):
        wallets[user_id] = ledger.account_for_user(user=User(pk=user_id)).pk
    return wallets
