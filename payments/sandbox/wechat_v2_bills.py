"""Sandbox of WeChat Pay v2's bills (docs/RECONCILIATION.md, "WeChat Pay trade bill" and "WeChat
Pay fund flow bill"): ``pay/downloadbill`` and ``pay/downloadfundflow`` take a signed XML request
and answer the CSV itself, or an unsigned error XML: ``20002 No Bill Exist`` while the bill is not
out (a day to come, or a ``not_ready`` rule), ``20001`` for a request it will not serve.

The fund flow, like WeChat's, takes HMAC-SHA256 signatures only.
"""

import re
import tempfile
from datetime import date, datetime

from django.http import FileResponse, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from payments.channels.wechat_v2.signing import SignType, xml_encode
from payments.sandbox.bill_rules import BillNotPublished
from payments.sandbox.bills import bill_publish, bill_write
from payments.sandbox.keys import keys_for
from payments.sandbox.models import BillKind, Protocol
from payments.sandbox.wechat_v2 import request_read

MERCHANT = ("mch_id", "appid")
NOT_PUBLISHED = (20002, "No Bill Exist")
_DAY = re.compile(r"^\d{8}$", re.ASCII)


@csrf_exempt
@require_POST
def downloadbill(request: HttpRequest) -> HttpResponseBase:
    keys = keys_for(Protocol.WECHAT_V2)
    fields, refusal = request_read(request, keys, merchant=MERCHANT)
    if refusal is not None:
        return refusal
    if fields.get("bill_type") != "ALL":
        return _error(20001, "invalid bill_type: the sandbox serves ALL")
    return _bill_answer(BillKind.TRADE, fields)


@csrf_exempt
@require_POST
def downloadfundflow(request: HttpRequest) -> HttpResponseBase:
    keys = keys_for(Protocol.WECHAT_V2)
    fields, refusal = request_read(request, keys, merchant=MERCHANT)
    if refusal is not None:
        return refusal
    if fields.get("sign_type") != SignType.HMAC_SHA256:
        return _error(20001, "sign_type must be HMAC-SHA256")
    if fields.get("account_type") != "Basic":
        return _error(20001, "invalid account_type: the sandbox serves Basic")
    return _bill_answer(BillKind.PAYOUT, fields)


urlpatterns = [
    path("pay/downloadbill", downloadbill, name="sandbox-wechat-v2-downloadbill"),
    path("pay/downloadfundflow", downloadfundflow, name="sandbox-wechat-v2-downloadfundflow"),
]


def _bill_answer(kind: BillKind, fields: dict[str, str]) -> HttpResponseBase:
    day = _bill_date(fields.get("bill_date", ""))
    if day is None:
        return _error(20001, "invalid bill_date")
    try:
        rules = bill_publish(protocol=Protocol.WECHAT_V2, kind=kind, day=day)
    except BillNotPublished:
        return _error(*NOT_PUBLISHED)
    bill = tempfile.TemporaryFile()  # noqa: SIM115 - the response streams it, then closes it
    bill_write(Protocol.WECHAT_V2, kind, day, bill, rules=rules)
    bill.seek(0)
    return FileResponse(bill, content_type="text/plain; charset=utf-8")


def _bill_date(text: str) -> date | None:
    """``20261206``, a real day."""
    try:
        return datetime.strptime(f"{text}+0800", "%Y%m%d%z").date() if _DAY.match(text) else None
    except ValueError:
        return None


def _error(code: int, message: str) -> HttpResponse:
    """WeChat's error answer to a bill download: unsigned, ``return_code`` FAIL and an ``error_code``."""
    body = xml_encode({"return_code": "FAIL", "return_msg": message, "error_code": code})
    return HttpResponse(body, content_type="text/xml; charset=utf-8")
