"""Driving the admin's Export form as a browser would: the button's URL keeps the changelist's
query string, and the form posts the format and every column."""

import html
import re

from django.test import Client
from django.urls import reverse
from import_export.resources import ModelResource

from wallet.resources import EntryResource, TransferResource

RESOURCES: dict[str, type[ModelResource]] = {"entry": EntryResource, "transfer": TransferResource}
FORMATS = {"csv": "0", "xlsx": "1"}


def export_url(client: Client, model_name: str, query: str = "") -> str:
    page = client.get(f"{reverse(f'admin:wallet_{model_name}_changelist')}?{query}")
    assert page.status_code == 200
    match = re.search(r'<a href="([^"]+)" class="export_link"', page.content.decode())
    assert match, "no Export button"
    return html.unescape(match.group(1))


def export(client: Client, model_name: str, file_format: str, query: str = ""):
    resource = RESOURCES[model_name]
    data = {"format": FORMATS[file_format], "resource": "0"}
    data |= {f"{resource.__name__.lower()}_{name}": "on" for name in resource().get_export_order()}
    return client.post(export_url(client, model_name, query), data)
