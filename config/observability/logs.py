"""Logging filters: each record carries the request's context and has secrets and payees'
identifiers masked before any handler formats it.

Masking is a net under the code, not a licence: log lines should name orders, not people. It
catches what slips through: card numbers (all but the last four digits), WeChat openids,
passwords, API tokens and bearer credentials, in the message and its arguments.
"""

import logging
import logging.config
import re
from typing import cast

from config.observability import context

MASK = "***"
# 13 to 19 digits, optionally grouped by spaces or dashes: a bank card number. The last four stay.
CARD_NUMBER = re.compile(r"\b\d(?:[ -]?\d){12,18}\b")
# A WeChat openid: "o" and 27 URL-safe characters.
OPENID = re.compile(r"\bo[A-Za-z0-9_-]{27}\b")
# key=value, key: value and JSON "key": "value" pairs whose key names a secret.
SECRET_PAIR = re.compile(
    r"""(?P<key>["']?\b(?:password|passwd|secret|token|api_key|apikey|openid|card_number|authorization)\b["']?"""
    r"""\s*[:=]\s*["']?)(?P<value>[^\s"',&}]+)""",
    re.IGNORECASE,
)
BEARER = re.compile(r"\b(Bearer|Token)\s+[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE)


def mask(text: str) -> str:
    text = BEARER.sub(rf"\1 {MASK}", text)
    text = SECRET_PAIR.sub(rf"\g<key>{MASK}", text)
    text = OPENID.sub(MASK, text)
    return CARD_NUMBER.sub(lambda found: MASK + re.sub(r"\D", "", found.group())[-4:], text)


class MaskingFilter(logging.Filter):
    """Replaces the record's message by its masked rendering (the arguments are merged in
    first, so a card number passed as ``%s`` is masked too)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask(message)
        if masked != message or record.args:
            record.msg, record.args = masked, None
        return True


class ContextFilter(logging.Filter):
    """Adds ``request_id``, ``user_id`` and ``order_no`` to every record (empty when unknown)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, variable in context.FIELDS.items():
            setattr(record, name, variable.get())
        return True


def handlers_adopt(logger: logging.Logger) -> None:
    """Gives the handlers Celery set up (its stderr or ``--logfile``) the project's formatter and
    filters, so a worker's lines are the same JSON (or text), with context and masking, as the
    web's, wherever Celery was told to write them."""
    from django.conf import settings  # The worker has loaded settings by the time it logs.

    formatters = cast(dict[str, dict], settings.LOGGING["formatters"])
    formatter_spec = formatters[settings.LOG_FORMAT]
    formatter = logging.config.dictConfigClass({"version": 1}).configure_formatter(dict(formatter_spec))
    for handler in logger.handlers:
        handler.setFormatter(formatter)
        for logging_filter in (ContextFilter(), MaskingFilter()):
            handler.addFilter(logging_filter)
