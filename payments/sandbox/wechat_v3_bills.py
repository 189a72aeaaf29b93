"""Sandbox of WeChat Pay v3's bills (docs/RECONCILIATION.md, "WeChat Pay trade bill" and "WeChat
Pay fund flow bill"): ``GET v3/bill/tradebill`` and ``GET v3/bill/fundflowbill`` answer, signed
by the platform, the SHA1 of the bill and a download link; ``GET v3/billdownload/file`` serves
the bill behind it, gzipped when ``tar_type=GZIP`` was asked, unsigned (the hash vouches for it).

Every request, the download's too, must carry the merchant's signature. A bill that is not out
(a day to come, or a ``not_ready`` rule) is ``400 NO_STATEMENT_EXIST``.
"""

import re
from datetime import date

from django.http import FileResponse, HttpRequest, HttpResponse, QueryDict
from django.http.response import HttpResponseBase
from django.urls import path, reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from payments.sandbox.bill_rules import BillNotPublished
from payments.sandbox.bills import bill_store, bill_stored_open
from payments.sandbox.keys import keys_for
from payments.sandbox.models import BillKind, Protocol
from payments.sandbox.wechat_v3_pay import SIGN_ERROR, merchant_signed, signed_answer

TRADE_BILL = "v3/bill/tradebill"
FUND_FLOW_BILL = "v3/bill/fundflowbill"
DOWNLOAD = "v3/billdownload/file"
DOWNLOAD_NAME = "sandbox-wechat-v3-bill-download"
# The one value of each bill's selector the sandbox keeps books for.
SELECTORS = {BillKind.TRADE: ("bill_type", "ALL"), BillKind.PAYOUT: ("account_type", "BASIC")}
NOT_PUBLISHED = {"code": "NO_STATEMENT_EXIST", "message": "该日期的账单尚未生成"}
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)


@csrf_exempt
@require_GET
def trade_bill(request: HttpRequest) -> HttpResponse:
    return _bill_link(request, BillKind.TRADE)


@csrf_exempt
@require_GET
def fund_flow_bill(request: HttpRequest) -> HttpResponse:
    return _bill_link(request, BillKind.PAYOUT)


@csrf_exempt
@require_GET
def bill_download(request: HttpRequest) -> HttpResponseBase:
    secrets = keys_for(Protocol.WECHAT_V3)
    if not merchant_signed(request, secrets):
        return signed_answer(secrets, 401, SIGN_ERROR)
    bill = bill_stored_open(request.GET.get("token", ""))
    if bill is None:
        return signed_answer(secrets, 400, {"code": "INVALID_REQUEST", "message": "下载链接无效或已过期"})
    return FileResponse(bill, content_type="application/octet-stream")


urlpatterns = [
    path(TRADE_BILL, trade_bill),
    path(FUND_FLOW_BILL, fund_flow_bill),
    path(DOWNLOAD, bill_download, name=DOWNLOAD_NAME),
]


def _bill_link(request: HttpRequest, kind: BillKind) -> HttpResponse:
    secrets = keys_for(Protocol.WECHAT_V3)
    if not merchant_signed(request, secrets):
        return signed_answer(secrets, 401, SIGN_ERROR)
    day, problem = _query_read(request.GET, kind)
    if day is None:
        return signed_answer(secrets, 400, {"code": "PARAM_ERROR", "message": problem})
    try:
        stored = bill_store(
            protocol=Protocol.WECHAT_V3, kind=kind, day=day, compress=request.GET.get("tar_type") == "GZIP"
        )
    except BillNotPublished:
        return signed_answer(secrets, 400, NOT_PUBLISHED)
    link = request.build_absolute_uri(f"{reverse(DOWNLOAD_NAME)}?token={stored.token}")
    return signed_answer(secrets, 200, {"hash_type": "SHA1", "hash_value": stored.sha1, "download_url": link})


def _query_read(query: QueryDict, kind: BillKind) -> tuple[date | None, str]:
    """The bill's day, or None and WeChat's words for what is wrong with the query."""
    selector, kept = SELECTORS[kind]
    if query.get(selector, kept) != kept:
        return None, f"{selector} 仅支持 {kept}"
    if query.get("tar_type", "GZIP") != "GZIP":
        return None, "tar_type 仅支持 GZIP"
    text = query.get("bill_date", "")
    try:
        return (date.fromisoformat(text), "") if _DAY.match(text) else (None, "bill_date 格式应为 yyyy-MM-DD")
    except ValueError:
        return None, "bill_date 不是有效日期"
