"""Helpers of the reconciliation admin tests: admin URLs, pages read as text, exports, and a
channel's bill as its portal gives it."""

import html
import re
from datetime import date
from decimal import Decimal

from django.test import Client
from django.urls import reverse
from import_export.resources import ModelResource

from payments.channels.wechat_bills import TRADE_HEADER, TRADE_SUMMARY_HEADER
from payments.withdrawals.tests.test_admin import FORMATS, texts
from reconciliation.resources import DiscrepancyResource, DiscrepancyTransitionResource, RunResource

D = Decimal
RESOURCES: dict[str, type[ModelResource]] = {
    "run": RunResource,
    "discrepancy": DiscrepancyResource,
    "discrepancytransition": DiscrepancyTransitionResource,
}


def url(model: str, view: str, *args) -> str:
    return reverse(f"admin:reconciliation_{model}_{view}", args=args)


def readonly(response, field: str) -> str:
    """The text of a read-only field on an admin change page."""
    assert response.status_code == 200
    page = response.content.decode()
    match = re.search(rf'class="form-row[^"]*\bfield-{field}\b.*?<div class="readonly">(.*?)</div>', page, re.S)
    assert match, f"no field {field} on the page"
    return texts(match.group(1))


def export_link(client: Client, model: str, query: str = "") -> str:
    """The Export button of the changelist opened with ``query``."""
    response = client.get(f"{url(model, 'changelist')}?{query}")
    assert response.status_code == 200
    match = re.search(r'<a href="([^"]+)" class="export_link"', response.content.decode())
    assert match, "no Export button"
    return html.unescape(match.group(1))


def export(client: Client, export_url: str, model: str, file_format: str):
    """Submit the export form with every column selected, as the browser would."""
    resource = RESOURCES[model]
    data = {"format": FORMATS[file_format], "resource": "0"}
    data |= {f"{resource.__name__.lower()}_{name}": "on" for name in resource().get_export_order()}
    return client.post(export_url, data)


def trade_bill(day: date, payments: list[tuple[str, str, str]], *, summary_count: int | None = None) -> bytes:
    """A WeChat Pay trade bill (docs/RECONCILIATION.md) of ``(order_no, amount, fee)`` payments."""

    def ticked(values) -> str:
        return ",".join(f"`{value}" for value in values)

    lines = [",".join(TRADE_HEADER)]
    for number, (order_no, amount, fee) in enumerate(payments, start=1):
        lines.append(
            ticked(
                [
                    f"{day} 10:00:05",
                    "wx123",
                    "1900000001",
                    "0",
                    "",
                    f"42000000012026{number:014d}",
                    order_no,
                    "o***x",
                    "NATIVE",
                    "SUCCESS",
                    "OTHERS",
                    "CNY",
                    amount,
                    "0.00",
                    "0",
                    "0",
                    "0.00",
                    "0.00",
                    "",
                    "",
                    "Recharge",
                    "",
                    fee,
                    "0.60%",
                    amount,
                    "0.00",
                    "",
                ]
            )  # fmt: skip
        )
    total = sum((D(amount) for _, amount, _ in payments), D("0.00"))
    fees = sum((D(fee) for _, _, fee in payments), D("0.00"))
    stated = len(payments) if summary_count is None else summary_count
    lines += [",".join(TRADE_SUMMARY_HEADER), ticked([stated, total, "0.00", "0.00", fees, total, "0.00"])]
    return ("\r\n".join(lines) + "\r\n").encode()
