"""Statement lines as the user knows them (docs/WALLET.md, "Statement"): who the other side is
(a username, a merchant's or channel's name, a campaign's title) and what happened ("Transfer
from bob", "Withdrawal to bank card ICBC ****1234"), in the request's language.

Each kind of ledger transfer has a describer that names a page's entries of that kind at once,
so a page costs its own query plus at most one per kind on it, whatever its size. The wallet's
kinds are described here; apps built on the wallet register theirs
(``statement_describer_register``) when Django starts, so the wallet imports none of them.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from wallet.campaigns.models import Campaign
from wallet.campaigns.services import TRANSFER_KIND as CAMPAIGN_REWARD_KIND
from wallet.models import Entry
from wallet.redpackets.models import RedPacket


@dataclass(frozen=True)
class StatementLine:
    counterparty: str | None
    description: str


# Entries of one kind -> {entry id: line}. An entry left out gets the generic line.
Describer = Callable[[Sequence[Entry]], dict[int, StatementLine]]

_DESCRIBERS: dict[str, Describer] = {}

# What an entry is when its describer finds nothing behind it (a ledger posting made by hand).
_KIND_LABELS = {
    "recharge": gettext_noop("Recharge"),
    "withdrawal": gettext_noop("Withdrawal"),
    "refund": gettext_noop("Refund"),
    "reconciliation_correction": gettext_noop("Correction by finance"),
}


def statement_describer_register(*, kinds: Iterable[str], describer: Describer) -> None:
    for kind in kinds:
        _DESCRIBERS[kind] = describer


def statement_describe(entries: Sequence[Entry]) -> dict[int, StatementLine]:
    """``{entry id: line}`` for entries from ``wallet.selectors.statement_entries``."""
    by_kind: dict[str, list[Entry]] = defaultdict(list)
    for entry in entries:
        by_kind[entry.transfer.kind].append(entry)
    lines: dict[int, StatementLine] = {}
    for kind, of_kind in by_kind.items():
        described = _DESCRIBERS[kind](of_kind) if kind in _DESCRIBERS else {}
        for entry in of_kind:
            lines[entry.pk] = described.get(entry.pk) or _generic(entry)
    return lines


def references(entries: Sequence[Entry]) -> set[str]:
    """The transfers' references, without the blank of a posting made by hand."""
    return {entry.transfer.reference for entry in entries} - {""}


def _generic(entry: Entry) -> StatementLine:
    """An entry nobody describes: its memo, or what its kind is; never a system account's code."""
    label = _KIND_LABELS.get(entry.transfer.kind, gettext_noop("Adjustment"))
    username = getattr(entry, "counterparty_username", None)
    return StatementLine(counterparty=username, description=entry.transfer.memo or _(label))


def _p2p(entries: Sequence[Entry]) -> dict[int, StatementLine]:
    lines = {}
    for entry in entries:
        name = entry.counterparty_username  # type: ignore[attr-defined]
        text = _("Transfer to %(name)s") if entry.amount < 0 else _("Transfer from %(name)s")
        lines[entry.pk] = StatementLine(counterparty=name, description=text % {"name": name})
    return lines


def _red_packets(entries: Sequence[Entry]) -> dict[int, StatementLine]:
    packets = {
        packet.packet_no: packet
        for packet in RedPacket.objects.filter(packet_no__in=references(entries)).select_related(
            "sender", "recipient", "group"
        )
    }
    lines = {}
    for entry in entries:
        packet = packets.get(entry.transfer.reference)
        if packet is None:
            continue
        if entry.transfer.kind == "redpacket_grab":
            name = packet.sender.get_username()
            lines[entry.pk] = StatementLine(name, _("Red packet from %(name)s") % {"name": name})
        elif entry.transfer.kind == "redpacket_refund":
            lines[entry.pk] = StatementLine(None, _("Unclaimed red packet shares returned"))
        else:
            name = packet.recipient.get_username() if packet.recipient else packet.group.name if packet.group else ""
            lines[entry.pk] = StatementLine(name, _("Red packet to %(name)s") % {"name": name})
    return lines


def _campaign_rewards(entries: Sequence[Entry]) -> dict[int, StatementLine]:
    codes = {e.counterparty_code for e in entries}  # type: ignore[attr-defined]
    titles = dict(Campaign.objects.filter(account__code__in=codes).values_list("account__code", "title"))
    return {
        entry.pk: StatementLine(title, _("Reward: %(title)s") % {"title": title})
        for entry in entries
        if (title := titles.get(entry.counterparty_code))  # type: ignore[attr-defined]
    }


statement_describer_register(kinds=["p2p"], describer=_p2p)
statement_describer_register(kinds=["redpacket_send", "redpacket_grab", "redpacket_refund"], describer=_red_packets)
statement_describer_register(kinds=[CAMPAIGN_REWARD_KIND], describer=_campaign_rewards)
