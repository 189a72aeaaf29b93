"""Public order numbers: a prefix, the UTC time to the millisecond, then random digits.

They sort by creation time, reveal nothing about volume (unlike a sequence), and collide with
odds of one in a million per millisecond; the unique constraint catches that one.
"""

import re
import secrets
from datetime import UTC

from django.utils import timezone


def order_no_new(prefix: str) -> str:
    """``WD20261128093015123`` + 6 random digits, 25 characters with a two-letter prefix."""
    stamp = timezone.now().astimezone(UTC).strftime("%Y%m%d%H%M%S%f")[:17]
    return f"{prefix}{stamp}{secrets.randbelow(10**6):06d}"


_ORDER_NO = re.compile(r"[A-Z]{2}[0-9]{23}", re.ASCII)


def is_order_no(text: str) -> bool:
    """Shaped like one of ours (any prefix): anything else, a NUL byte or 5,000 characters
    included, is looked up nowhere."""
    return _ORDER_NO.fullmatch(text) is not None
