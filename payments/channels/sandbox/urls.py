"""``/sandbox/<protocol>/…``: one URL module per protocol (see protocols.py)."""

from django.urls import include, path

from payments.channels.sandbox.protocols import MODULES

urlpatterns = [path(f"{protocol}/", include(module)) for protocol, module in MODULES.items()]
