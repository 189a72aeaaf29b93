"""The sandbox's protocol modules, each of which provides:

- ``urlpatterns``: its endpoints, mounted at ``/sandbox/<protocol>/``;
- ``keys_generate() -> dict``: fresh credentials of both sides (JSON-serialisable);
- ``notify_build(payout, secrets) -> tuple[dict[str, str], bytes] | None``: the signed notify
  telling our notify URL the payout's state, or None for protocols without notifies.
"""

from importlib import import_module
from types import ModuleType

from payments.channels.sandbox.models import Protocol

MODULES = {
    Protocol.WECHAT_V3: "payments.channels.sandbox.wechat_v3",
    Protocol.WECHAT_V2: "payments.channels.sandbox.wechat_v2",
    Protocol.BANK: "payments.channels.sandbox.bank",
}


def protocol_module(protocol: str) -> ModuleType:
    return import_module(MODULES[Protocol(protocol)])
