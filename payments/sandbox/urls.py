"""``/sandbox/<protocol>/…``: one URL module per protocol (see protocols.py), each serving its
channel's bills at the channel's own paths, and the payer's cashier page."""

from django.urls import include, path

from payments.sandbox import cashier
from payments.sandbox.protocols import MODULES

urlpatterns = [
    *cashier.urlpatterns,
    *(path(f"{protocol}/", include(module)) for protocol, module in MODULES.items()),
]
