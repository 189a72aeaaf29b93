"""The history of the controls and the proposals in the admin (pghistory's "Events" list), read
only and exportable as CSV or XLSX for auditors: when, which row, what changed, and the context
the database kept with it (actor, URL, request id, proposal)."""

import json

from django.contrib.auth import get_user_model
from import_export import fields, resources
from pghistory import admin as pghistory_admin
from pghistory.models import Events

from wallet.adminkit import StreamingExportMixin
from wallet.exports.widgets import DateTimeWidget, TextWidget


def _text(column_name: str, attribute: str | None = None) -> fields.Field:
    return fields.Field(attribute=attribute, column_name=column_name, widget=TextWidget())


class ControlEventResource(resources.ModelResource):
    created_at = fields.Field(attribute="pgh_created_at", column_name="created_at", widget=DateTimeWidget())
    label = _text("label", "pgh_label")
    model = _text("model", "pgh_obj_model")
    object_id = _text("object_id", "pgh_obj_id")
    changes = _text("changes")
    actor = _text("actor")
    url = _text("url")
    request_id = _text("request_id")
    proposal = _text("proposal")

    class Meta:
        model = Events
        fields = export_order = (
            "created_at",
            "label",
            "model",
            "object_id",
            "changes",
            "actor",
            "url",
            "request_id",
            "proposal",
        )

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._usernames: dict[int, str] = {}

    def _context(self, event: Events) -> dict:
        return event.pgh_context or {}

    def dehydrate_changes(self, event: Events) -> str:
        return json.dumps(event.pgh_diff if event.pgh_diff is not None else event.pgh_data, sort_keys=True)

    def dehydrate_actor(self, event: Events) -> str:
        user_id = self._context(event).get("user")
        if user_id is None:
            return ""
        if user_id not in self._usernames:
            user = get_user_model().objects.filter(pk=user_id).first()
            self._usernames[user_id] = user.get_username() if user else str(user_id)
        return self._usernames[user_id]

    def dehydrate_url(self, event: Events) -> str:
        return self._context(event).get("url", "")

    def dehydrate_request_id(self, event: Events) -> str:
        return self._context(event).get("request_id", "")

    def dehydrate_proposal(self, event: Events) -> str:
        return str(self._context(event).get("proposal", ""))


class ControlEventsAdmin(StreamingExportMixin, pghistory_admin.EventsAdmin):
    """pghistory's list of every tracked change, with the export button (pghistory.admin
    registers it: the PGHISTORY_ADMIN_CLASS setting)."""

    resource_classes = [ControlEventResource]

    def has_export_permission(self, request) -> bool:
        # pghistory's Events model is not ours to give an export permission: the proposals' is it.
        return request.user.has_perm("project.export_changeproposal")

    def get_queryset(self, request):
        if request.resolver_match is None:  # an export replayed by the worker: the whole list
            return super(pghistory_admin.EventsAdmin, self).get_queryset(request).order_by("-pgh_created_at")
        return super().get_queryset(request)
