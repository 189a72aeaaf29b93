"""Log lines: JSON with the request's context, and no secrets or payees' identifiers."""

import json
import logging

import pytest
from pythonjsonlogger.json import JsonFormatter

from config.observability import context
from config.observability.logs import ContextFilter, MaskingFilter, mask


@pytest.mark.parametrize(
    ("line", "kept", "hidden"),
    [
        ("payout to card 6222 0212 3456 7890 123 failed", "***0123", "6222 0212"),
        ("payout to card 6222021234567890123 failed", "***0123", "62220212345"),
        ("openid oUpF8uMuAJO_M2pxb1Q9zNjWeS6o refused", "refused", "oUpF8uMuAJO"),
        ('login {"username": "amy", "password": "hunter2!x"}', '"username": "amy"', "hunter2"),
        ("callback token=abc123def456&x=1", "x=1", "abc123def456"),
        ("Authorization: Bearer eyJhbGciOi.payload.sig", "Authorization", "eyJhbGciOi"),
        ("Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b sent", "sent", "9944b0919"),
    ],
)
def test_secrets_and_payee_identifiers_are_masked(line, kept, hidden):
    masked = mask(line)

    assert kept in masked
    assert hidden not in masked


def test_order_numbers_and_amounts_stay_readable():
    line = "withdrawal WD20260515093015123456789 of 49.90 paid by user 7"

    assert mask(line) == line


def test_a_json_line_carries_the_context_and_masks_arguments():
    record = logging.LogRecord("payments", logging.INFO, __file__, 1, "paying to %s", ("6222021234567890123",), None)
    formatter = JsonFormatter("%(levelname)s %(message)s %(request_id)s %(user_id)s %(order_no)s")
    token = context.request_id.set("req-1")
    context.order_no.set("WD20260515093015123456789")
    try:
        for each in (ContextFilter(), MaskingFilter()):
            each.filter(record)
        line = json.loads(formatter.format(record))
    finally:
        context.request_id.reset(token)
        context.context_clear()

    assert line == {
        "levelname": "INFO",
        "message": "paying to ***0123",
        "request_id": "req-1",
        "user_id": "",
        "order_no": "WD20260515093015123456789",
    }
