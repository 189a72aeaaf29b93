"""The day's bill of each sandbox channel, in the channel's own file format (docs/ARCHITECTURE.md §8):
``GET /sandbox/bills/<protocol>/<YYYY-MM-DD>.csv``, the payouts finished that local day.

WeChat bills (v2 and v3 transfers) prefix every field with a back-tick, so spreadsheets keep
order numbers as text, and end with a summary header and row; the bank's is plain CSV with a
trailer line. Reconciliation will read them.
"""

import csv
import io
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from payments.sandbox.keys import keys_for
from payments.sandbox.models import Protocol, SandboxPayout

WECHAT_HEADER = ["转账时间", "商户号", "商户单号", "微信转账单号", "用户标识", "转账金额", "转账状态", "失败原因"]
WECHAT_SUMMARY = ["总笔数", "成功笔数", "成功金额", "失败笔数", "失败金额"]
WECHAT_STATES = {SandboxPayout.State.SUCCESS: "SUCCESS", SandboxPayout.State.FAILED: "FAIL"}
BANK_HEADER = ["finished_at", "order_no", "payout_id", "amount", "status", "fail_code"]


@require_GET
def bill_download(request: HttpRequest, protocol: str, day: str) -> HttpResponse:
    try:
        bill_date = date.fromisoformat(day)
        protocol = Protocol(protocol)
    except ValueError as exc:
        raise Http404("No such bill.") from exc
    if protocol == Protocol.ALIPAY:
        raise Http404("No Alipay bill yet: it comes with reconciliation (zipped GBK CSV).")
    payouts = list(_finished_on(protocol, bill_date))
    text = _bank_bill(payouts) if protocol == Protocol.BANK else _wechat_bill(payouts, _merchant_id(protocol))
    response = HttpResponse(text.encode("utf-8"), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{protocol}-{bill_date}.csv"'
    return response


def _finished_on(protocol: str, day: date):
    start = datetime.combine(day, time.min, tzinfo=timezone.get_default_timezone())
    return SandboxPayout.objects.filter(
        protocol=protocol, finished_at__gte=start, finished_at__lt=start + timedelta(days=1)
    ).order_by("finished_at", "id")


def _merchant_id(protocol: str) -> str:
    secrets = keys_for(protocol)
    return str(secrets.get("mchid") or secrets.get("mch_id") or "")


def _wechat_bill(payouts: list[SandboxPayout], merchant_id: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(WECHAT_HEADER)
    for payout in payouts:
        fields = [
            timezone.localtime(payout.finished_at).strftime("%Y-%m-%d %H:%M:%S"),
            merchant_id,
            payout.order_no,
            payout.channel_reference,
            payout.payee_masked,
            f"{payout.amount:.2f}",
            WECHAT_STATES.get(SandboxPayout.State(payout.state), "PROCESSING"),
            payout.failure_code,
        ]
        writer.writerow([f"`{field}" for field in fields])
    succeeded = [p for p in payouts if p.state == SandboxPayout.State.SUCCESS]
    failed = [p for p in payouts if p.state == SandboxPayout.State.FAILED]
    writer.writerow(WECHAT_SUMMARY)
    summary = [len(payouts), len(succeeded), _total(succeeded), len(failed), _total(failed)]
    writer.writerow([f"`{value}" for value in summary])
    return out.getvalue()


def _bank_bill(payouts: list[SandboxPayout]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(BANK_HEADER)
    for payout in payouts:
        finished = timezone.localtime(payout.finished_at).isoformat()
        status = SandboxPayout.State(payout.state).name
        writer.writerow(
            [finished, payout.order_no, payout.channel_reference, f"{payout.amount:.2f}", status, payout.failure_code]
        )
    writer.writerow(["TOTAL", len(payouts), "", _total(payouts), "", ""])
    return out.getvalue()


def _total(payouts: list[SandboxPayout]) -> str:
    return f"{sum((p.amount for p in payouts), Decimal('0.00')):.2f}"
