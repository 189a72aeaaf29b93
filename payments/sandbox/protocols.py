"""The sandbox's protocol modules, each of which provides:

- ``urlpatterns``: its endpoints, mounted at ``/sandbox/<protocol>/``;
- ``keys_generate() -> dict``: fresh credentials of both sides (JSON-serialisable);
- ``notify_build(payout, secrets) -> tuple[dict[str, str], bytes] | None``: the signed notify
  telling our notify URL the payout's state, or None for protocols without payout notifies;
- ``notify_acknowledged(status: int, body: bytes) -> bool``: whether the merchant's answer to a
  notify (HTTP status and body) stops the channel's redelivery; anything else is sent again;

and, for protocols that collect payments (all but the bank):

- ``payment_notify_build(payment, secrets, *, amount, forged) -> tuple[dict[str, str], bytes]``:
  the payment-success notify of a paid payment, claiming ``amount`` (payment_engine's variants),
  its signature broken when ``forged``;
- ``refund_notify_build(refund, secrets) -> tuple[dict[str, str], bytes] | None``: the notify of
  a refund's final state, or None for protocols that do not notify refunds.

The payer's side (a QR code scanned, a cashier page opened) is ``cashier.py``, shared by all.
"""

from importlib import import_module
from types import ModuleType

from payments.sandbox.models import Protocol

MODULES = {
    Protocol.WECHAT_V3: "payments.sandbox.wechat_v3",
    Protocol.WECHAT_V2: "payments.sandbox.wechat_v2",
    Protocol.BANK: "payments.sandbox.bank",
    Protocol.ALIPAY: "payments.sandbox.alipay",
}


def protocol_module(protocol: str) -> ModuleType:
    return import_module(MODULES[Protocol(protocol)])
