"""The django-fsm-log rows of one payments model, as its own admin page and export for
auditors: every state machine of payments logs into StateLog's one table."""

from django.db import models
from import_export import fields, resources

from wallet.resources import IsoDateTimeWidget, TextWidget


class TransitionLogManager(models.Manager):
    """The django-fsm-log rows of one payments model (StateLog keeps every model's in one table)."""

    def __init__(self, model_name: str) -> None:
        super().__init__()
        self.model_name = model_name

    def get_queryset(self):
        return super().get_queryset().filter(content_type__app_label="payments", content_type__model=self.model_name)


class TransitionLogResource(resources.ModelResource):
    """``order_no`` is annotated by the admin's queryset (the log refers to orders by id)."""

    timestamp = fields.Field(attribute="timestamp", widget=IsoDateTimeWidget())
    order_no = fields.Field(attribute="order_no", widget=TextWidget())
    transition = fields.Field(attribute="transition", widget=TextWidget())
    source_state = fields.Field(attribute="source_state", widget=TextWidget())
    state = fields.Field(attribute="state", widget=TextWidget())
    by = fields.Field(attribute="by__username", widget=TextWidget())
    description = fields.Field(attribute="description", widget=TextWidget())

    class Meta:
        fields = export_order = ("timestamp", "order_no", "transition", "source_state", "state", "by", "description")
