"""The django-fsm-log rows of one model, as its own admin page and export for auditors:
every state machine logs into StateLog's one table."""

from django.db import models
from import_export import fields, resources

from wallet.exports.widgets import DateTimeWidget, TextWidget


class TransitionLogManager(models.Manager):
    """The django-fsm-log rows of one model (StateLog keeps every model's in one table)."""

    def __init__(self, model_name: str, app_label: str = "payments") -> None:
        super().__init__()
        self.model_name = model_name
        self.app_label = app_label

    def get_queryset(self):
        content_type = {"content_type__app_label": self.app_label, "content_type__model": self.model_name}
        return super().get_queryset().filter(**content_type)


class TransitionLogResource(resources.ModelResource):
    """``order_no`` is annotated by the admin's queryset (the log refers to orders by id)."""

    timestamp = fields.Field(attribute="timestamp", widget=DateTimeWidget())
    order_no = fields.Field(attribute="order_no", widget=TextWidget())
    transition = fields.Field(attribute="transition", widget=TextWidget())
    source_state = fields.Field(attribute="source_state", widget=TextWidget())
    state = fields.Field(attribute="state", widget=TextWidget())
    by = fields.Field(attribute="by__username", widget=TextWidget())
    description = fields.Field(attribute="description", widget=TextWidget())

    class Meta:
        fields = export_order = ("timestamp", "order_no", "transition", "source_state", "state", "by", "description")
