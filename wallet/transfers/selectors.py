"""Read queries over user-to-user transfers and receive codes."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.contrib.auth.models import User
from django.db.models import Aggregate, Count, Exists, OuterRef, Prefetch, Q, QuerySet, Sum

from wallet.models import Entry, PeerTransfer, ReceiveCode
from wallet.money import ZERO

# Transfers whose money left the sender or is held for review: they use quota.
COUNTED_STATUSES = (PeerTransfer.Status.POSTED, PeerTransfer.Status.UNDER_REVIEW)


@dataclass(frozen=True)
class SenderHistory:
    counts: Mapping[str, int]
    amounts: Mapping[str, Decimal]


def transfer_history(*, sender_id: int, since: Mapping[str, datetime]) -> SenderHistory:
    """The sender's transfers (posted or under review) since each named instant, in one query.

    Read under the sender's transfer lock, from committed rows only: a refused or rolled-back
    transfer left no row, so it uses no quota.
    """
    sent = PeerTransfer.objects.filter(
        sender_id=sender_id, status__in=COUNTED_STATUSES, created_at__gte=min(since.values())
    )
    aggregates: dict[str, Aggregate] = {}
    for name, start in since.items():
        aggregates[f"count_{name}"] = Count("id", filter=Q(created_at__gte=start))
        aggregates[f"amount_{name}"] = Sum("amount", filter=Q(created_at__gte=start))
    row = sent.aggregate(**aggregates)
    return SenderHistory(
        counts={name: row[f"count_{name}"] for name in since},
        amounts={name: row[f"amount_{name}"] or ZERO for name in since},
    )


def has_paid_before(*, sender_id: int, recipient_id: int) -> bool:
    """True when a transfer from the sender to the recipient was ever posted."""
    return PeerTransfer.objects.filter(
        sender_id=sender_id, recipient_id=recipient_id, status=PeerTransfer.Status.POSTED
    ).exists()


def peer_transfer_for_user(*, user: User, transfer_id: int) -> PeerTransfer | None:
    """A transfer the user sent (in any status) or received (once posted), else None."""
    mine = Q(sender=user) | Q(recipient=user, status=PeerTransfer.Status.POSTED)
    return (
        PeerTransfer.objects.filter(mine, pk=transfer_id)
        .select_related("sender", "recipient", "ledger_transfer")
        .prefetch_related(peer_transfer_legs())
        .first()
    )


def peer_transfer_legs() -> Prefetch:
    """A transfer's ledger legs with their accounts, in one query: PeerTransferSerializer shows
    the caller's own legs, told by their account's owner."""
    return Prefetch("ledger_transfer__entries", queryset=Entry.objects.select_related("account"))


def peer_transfers_under_review() -> QuerySet[PeerTransfer]:
    """The review queue, oldest first."""
    return PeerTransfer.objects.filter(status=PeerTransfer.Status.UNDER_REVIEW).order_by("created_at", "id")


def receive_code_is_used() -> Exists:
    """For a single-use code: a transfer paid it (and was not rejected)."""
    return Exists(PeerTransfer.objects.filter(receive_code=OuterRef("pk")).exclude(status=PeerTransfer.Status.REJECTED))


def receive_codes_of(*, owner: User) -> QuerySet[ReceiveCode]:
    """The owner's codes, each annotated ``used`` (ordered by the paginator)."""
    return ReceiveCode.objects.filter(owner=owner).annotate(used=receive_code_is_used())


def receive_code_of(*, owner: User, code_id: int) -> ReceiveCode | None:
    return receive_codes_of(owner=owner).filter(pk=code_id).first()
