"""How the approval queue shows an order to a reviewer (docs/WITHDRAWALS.md, "The approval queue").

A laptop screen has room for short marks, not sentences: each risk rule that fired becomes a
badge naming what it compared (``amount 9,900 > 5,000``) with the rule's full message on hover,
the time an order has waited reads ``2 h 14 min``, and the facts the risk decision saw become
labelled rows in the reviewer's time zone instead of the stored JSON.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.functional import Promise
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from payments.withdrawals.models import Withdrawal, WithdrawalApproval, WithdrawalStatus
from risk.kinds import Action, Kind, Period
from wallet.money import CENT, display_amount

MINUTES_A_DAY = 24 * 60
# An order waiting this long is marked: it is past a working day's turnaround.
LONG_WAIT = timedelta(hours=24)

# What a badge says per rule kind: the fact the rule compared, the observed value and its limit.
_COMPARISONS: dict[str, Promise] = {
    Kind.AMOUNT_MIN: gettext_lazy("amount %(observed)s < %(limit)s"),
    Kind.AMOUNT_MAX: gettext_lazy("amount %(observed)s > %(limit)s"),
    Kind.AMOUNT_REVIEW: gettext_lazy("amount %(observed)s > %(limit)s"),
    Kind.FOUR_EYES: gettext_lazy("four eyes %(observed)s ≥ %(limit)s"),
    Kind.COUNT_LIMIT: gettext_lazy("orders %(observed)s > %(limit)s"),
    Kind.AMOUNT_LIMIT: gettext_lazy("total %(observed)s > %(limit)s"),
    Kind.WINDOW: gettext_lazy("time %(observed)s in %(limit)s"),
    Kind.ROLLOUT: gettext_lazy("rollout %(observed)s"),
    Kind.USER_BLOCKED: gettext_lazy("user blocked"),
    Kind.PAYOUT_ACCOUNT_BLOCKED: gettext_lazy("account blocked"),
}

_PERIODS: dict[str, Promise] = {
    Period.HOUR: gettext_lazy("last hour"),
    Period.DAY: gettext_lazy("today"),
    Period.DAYS_30: gettext_lazy("30 days"),
}


@dataclass(frozen=True)
class RiskBadge:
    """One fired rule as the queue shows it: ``label`` in the cell, ``message`` on hover, ``tone``
    picks the colour (``review``, ``four-eyes`` or ``reject``)."""

    label: str
    message: str
    tone: str


def risk_badges(hits: Iterable[Mapping[str, str]]) -> list[RiskBadge]:
    """The badges of a risk evaluation's stored hits, in the order the rules fired."""
    return [_badge(hit) for hit in hits]


def _badge(hit: Mapping[str, str]) -> RiskBadge:
    values = {"observed": compact_number(hit["observed"]), "limit": compact_number(hit["limit"])}
    comparison = _COMPARISONS.get(hit["kind"])
    if comparison is None:  # a kind this screen does not know yet: its code and raw values
        label = " ".join(part for part in (hit["rule"], values["observed"], values["limit"]) if part)
    else:
        label = str(comparison) % values
    if hit["action"] == Action.REJECT:
        tone = "reject"
    elif hit["kind"] == Kind.FOUR_EYES:
        tone = "four-eyes"
    else:
        tone = "review"
    return RiskBadge(label=label, message=hit["message"], tone=tone)


def compact_number(text: str) -> str:
    """A stored number as a badge shows it: thousands separated, cents only when there are
    any (``"9900.00"`` -> ``"9,900"``, ``"9999.99"`` -> ``"9,999.99"``); other text unchanged."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        return text
    if not value.is_finite():
        return text
    if value == value.to_integral_value():
        return f"{int(value):,}"
    return f"{value.quantize(CENT):,}"


def waiting_time(waited: timedelta) -> str:
    """``12 min``, ``2 h 14 min`` or ``3 d 4 h``: the two units a reviewer needs, rounded down;
    ``< 1 min`` for an order just in."""
    minutes = max(int(waited.total_seconds() // 60), 0)
    days, minutes = divmod(minutes, MINUTES_A_DAY)
    hours, minutes = divmod(minutes, 60)
    if days:
        return _("%(days)d d %(hours)d h") % {"days": days, "hours": hours}
    if hours:
        return _("%(hours)d h %(minutes)d min") % {"hours": hours, "minutes": minutes}
    if minutes:
        return _("%(minutes)d min") % {"minutes": minutes}
    return _("< 1 min")


def local_time(moment: Any) -> str:
    """An aware datetime (or its ISO text) in the configured time zone, to the second."""
    if isinstance(moment, str):
        parsed = parse_datetime(moment)
        if parsed is None:
            return moment
        moment = parsed
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S %Z")


def risk_input_rows(inputs: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, value) rows of a stored evaluation's inputs, amounts formatted and the time local.

    The payout account's blind index is left out: it means nothing to a reviewer. Keys this
    screen does not know are shown under their own name, so nothing the decision saw is hidden.
    """
    rows: list[tuple[str, str]] = []
    for key, value in inputs.items():
        if key == "payout_fingerprint":
            continue
        if key == "amount":
            rows.append((_("Amount"), _money(value)))
        elif key == "user_id":
            rows.append((_("User id"), str(value)))
        elif key == "user_active":
            rows.append((_("User active"), _("yes") if value else _("no")))
        elif key == "counts":
            rows.extend(
                (_("Earlier orders, %(period)s") % {"period": _period(period)}, str(count))
                for period, count in value.items()
            )
        elif key == "amounts":
            rows.extend(
                (_("Earlier amount not released, %(period)s") % {"period": _period(period)}, _money(total))
                for period, total in value.items()
            )
        elif key == "now":
            rows.append((_("Evaluated at"), local_time(value)))
        else:
            rows.append((key, _plain(value)))
    return rows


def _money(text: str) -> str:
    return display_amount(Decimal(text))


def _period(period: str) -> str:
    return str(_PERIODS.get(period, period))


def _plain(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{key}: {item}" for key, item in value.items())
    return str(value)


# The cells of the queue, as HTML the admin renders as is (every value is escaped by format_html).


def order_cell(withdrawal: Withdrawal, *, url: str, now: datetime) -> SafeString:
    """The order number (the link to the order), its user, when it was submitted and, while it
    waits for review, for how long."""
    submitted = timezone.localtime(withdrawal.created_at)
    waiting = ""
    if withdrawal.status == WithdrawalStatus.PENDING:
        waited = now - withdrawal.created_at
        waiting = format_html(
            '<span class="queue-wait{}" title="{}">{}</span>',
            " queue-wait--long" if waited >= LONG_WAIT else "",
            _("Waiting for review"),
            waiting_time(waited),
        )
    username = withdrawal.user.get_username()
    return format_html(
        '<a class="queue-order-no" href="{}">{}</a><span class="queue-user" title="{}">{}</span>'
        '<span class="queue-when"><time datetime="{}">{}</time>{}</span>',
        url,
        withdrawal.order_no,
        username,
        username,
        submitted.isoformat(),
        submitted.strftime("%Y-%m-%d %H:%M"),
        waiting,
    )


def amount_cell(withdrawal: Withdrawal) -> SafeString:
    return format_html(
        '<span class="queue-money">{}</span><span class="queue-fee">{}</span>',
        display_amount(withdrawal.amount),
        _("fee %(amount)s") % {"amount": display_amount(withdrawal.fee)},
    )


def money_cell(value: Decimal | None) -> SafeString:
    return format_html('<span class="queue-money">{}</span>', "-" if value is None else display_amount(value))


def risk_cell(hits: Iterable[Mapping[str, str]]) -> SafeString:
    """One badge per fired rule, its full message on hover; a dash when none fired."""
    badges = risk_badges(hits)
    if not badges:
        return format_html("{}", "-")
    return format_html_join(
        "",
        '<span class="risk-badge risk-badge--{}" title="{}">{}</span>',
        ((badge.tone, badge.message, badge.label) for badge in badges),
    )


def history_cell(*, count: int, not_released: Decimal) -> SafeString:
    """The user's withdrawals of the last 30 days: how many, and the amount that did not come back."""
    orders = ngettext("%(count)d order", "%(count)d orders", count) % {"count": count}
    return format_html(
        '<span class="queue-count">{}</span><span class="queue-money-small">{}</span>'
        '<span class="queue-muted">{}</span>',
        orders,
        display_amount(not_released),
        _("not released"),
    )


def approval_cell(withdrawal: Withdrawal, approvals: list[WithdrawalApproval]) -> SafeString:
    """The status, then the approvals given of those required, with a mark on four-eyes orders
    and who approved, first one first."""
    return format_html(
        '<span class="queue-status queue-status--{}">{}</span>{}',
        withdrawal.status,
        withdrawal.get_status_display(),
        approvals_summary(withdrawal, approvals),
    )


def approvals_summary(withdrawal: Withdrawal, approvals: list[WithdrawalApproval]) -> SafeString:
    given = _("%(given)d of %(required)d") % {"given": len(approvals), "required": withdrawal.approvals_required}
    four_eyes = ""
    if withdrawal.approvals_required > 1:
        four_eyes = format_html(
            '<span class="four-eyes-mark" title="{}">{}</span>',
            _("Two people approve, one of them a finance supervisor."),
            _("four eyes"),
        )
    approvers = format_html_join(
        "",
        '<span class="queue-approver" title="{}">✓ {}</span>',
        (
            (_("Approved %(when)s") % {"when": local_time(approval.created_at)}, approval.actor.get_username())
            for approval in approvals
        ),
    )
    return format_html('<span class="queue-approvals">{}{}</span>{}', given, four_eyes, approvers)


def risk_inputs_table(inputs: Mapping[str, Any]) -> SafeString:
    return format_html(
        '<table class="risk-inputs"><tbody>{}</tbody></table>',
        format_html_join("", '<tr><th scope="row">{}</th><td>{}</td></tr>', risk_input_rows(inputs)),
    )
