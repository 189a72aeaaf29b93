"""Withdrawals on a user's statement (wallet.statements): "Withdrawal to bank card ICBC
****1234", from the channel that paid it."""

from collections.abc import Sequence

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from payments.channels.models import PayoutAccountKind
from payments.withdrawals.models import Withdrawal
from wallet.models import Entry
from wallet.statements import StatementLine, references

_TO_ACCOUNT = {
    PayoutAccountKind.BANK_CARD: gettext_noop("Withdrawal to bank card %(account)s"),
    PayoutAccountKind.WECHAT_OPENID: gettext_noop("Withdrawal to WeChat %(account)s"),
    PayoutAccountKind.ALIPAY: gettext_noop("Withdrawal to Alipay %(account)s"),
}


def withdrawal_statement_lines(entries: Sequence[Entry]) -> dict[int, StatementLine]:
    """The withdrawal (``withdrawal``) and its return (``withdrawal_reversal``), by the order
    number each transfer references: one query for the page."""
    withdrawals = {
        withdrawal.order_no: withdrawal
        for withdrawal in Withdrawal.objects.filter(order_no__in=references(entries)).select_related(
            "payout_account", "channel"
        )
    }
    lines = {}
    for entry in entries:
        withdrawal = withdrawals.get(entry.transfer.reference)
        if withdrawal is None:
            continue
        if entry.transfer.kind == "withdrawal_reversal":
            text = _("Withdrawal %(order_no)s returned") % {"order_no": withdrawal.order_no}
        else:
            text = _(_TO_ACCOUNT[PayoutAccountKind(withdrawal.payout_account.kind)]) % {
                "account": withdrawal.payout_account.display
            }
        lines[entry.pk] = StatementLine(counterparty=withdrawal.channel.name, description=text)
    return lines
