"""JSON from outside (API bodies, channel notifies and answers), parsed with a nesting limit.

Python's decoder recurses once per level: 50,000 ``[`` raise ``RecursionError``, and a few
hundred levels that do parse make every later ``json.dumps`` (the idempotency fingerprint) as
deep. Nothing we accept nests deeper than a few levels, so deeper input is refused before it
is decoded, as a ``ValueError`` the callers already treat as malformed input.
"""

import json
import re
from typing import Any

MAX_DEPTH = 32

# String literals (escapes included), dropped before the brackets are counted: a "[" inside a
# string is text, not nesting.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


class JSONTooDeep(ValueError):
    """The document nests arrays and objects deeper than allowed."""


def json_depth_check(raw: bytes, *, max_depth: int = MAX_DEPTH) -> None:
    """Raise ``JSONTooDeep`` when ``raw`` opens more than ``max_depth`` levels at once."""
    depth = 0
    for bracket in _BRACKET.finditer(_STRING.sub(b'""', raw)):
        if bracket.group() in (b"[", b"{"):
            depth += 1
            if depth > max_depth:
                raise JSONTooDeep(f"The JSON document is nested deeper than {max_depth} levels.")
        else:
            depth -= 1


def json_parse(raw: bytes | str, *, max_depth: int = MAX_DEPTH, **options: Any) -> Any:
    """``json.loads`` that refuses documents deeper than ``max_depth``; ``options`` go to it."""
    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    json_depth_check(data, max_depth=max_depth)
    return json.loads(data, **options)
