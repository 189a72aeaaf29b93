"""``/sandbox/<protocol>/…``: one URL module per protocol (see protocols.py), the bills and the
payer's cashier page."""

from django.urls import include, path

from payments.sandbox import cashier
from payments.sandbox.bills import bill_download
from payments.sandbox.protocols import MODULES

urlpatterns = [
    path("bills/<str:protocol>/<str:day>.csv", bill_download, name="sandbox-bill"),
    *cashier.urlpatterns,
    *(path(f"{protocol}/", include(module)) for protocol, module in MODULES.items()),
]
