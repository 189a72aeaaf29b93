"""Public red packet numbers: ``RP``, the UTC time to the millisecond, then random digits.

The same shape as the payment order numbers of payments (which wallet may not import): they
sort by creation time, reveal nothing about volume, and the unique constraint catches the
one-in-a-million collision within a millisecond.
"""

import re
import secrets
from datetime import UTC

from django.utils import timezone

PREFIX = "RP"
_PACKET_NO = re.compile(rf"{PREFIX}[0-9]{{23}}", re.ASCII)


def packet_no_new() -> str:
    """``RP20261207093015123`` + 6 random digits: 25 characters."""
    stamp = timezone.now().astimezone(UTC).strftime("%Y%m%d%H%M%S%f")[:17]
    return f"{PREFIX}{stamp}{secrets.randbelow(10**6):06d}"


def is_packet_no(text: str) -> bool:
    """Shaped like one of ours: anything else is looked up nowhere."""
    return _PACKET_NO.fullmatch(text) is not None
