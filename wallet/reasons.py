"""Status codes: what a client tells its user about an order, beside its bare status
(docs/WALLET.md, "Status codes").

Each kind of order has its catalogue: every code it can answer and the message that goes with
it, translated (gettext). One function per kind picks the code from the object, so the API,
the schema's enum and the docs read the same list.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django_stubs_ext import StrOrPromise


@dataclass(frozen=True)
class StatusCatalogue:
    """``code_of(obj)`` is one of ``messages``' keys; ``messages[code]`` is for people."""

    code_of: Callable[[Any], str]
    messages: Mapping[str, StrOrPromise]

    @property
    def codes(self) -> list[str]:
        return list(self.messages)

    def message(self, obj: Any) -> str:
        return str(self.messages[self.code_of(obj)])
