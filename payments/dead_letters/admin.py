"""Dead letters in the admin, read-only, with the retry action for operations."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from payments.dead_letters import services
from payments.dead_letters.models import DeadLetter
from wallet.adminkit import ReadOnlyMixin
from wallet.errors import ApplicationError


@admin.register(DeadLetter)
class DeadLetterAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Tasks that gave up after their retries; operations retry them once the cause is fixed."""

    list_display = ("id", "created_at", "task", "args", "withdrawal", "attempts", "error", "retried_at", "retried_by")
    list_filter = (("retried_at", admin.EmptyFieldListFilter), "task", "created_at")
    list_select_related = ("withdrawal", "retried_by")
    ordering = ("-created_at", "-id")
    actions = ["retry_selected"]

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("payments.retry_deadletter")

    @admin.action(description=_("Retry the selected tasks"), permissions=["retry"])
    def retry_selected(self, request, queryset: QuerySet[DeadLetter]):
        for dead_letter in queryset:
            try:
                services.dead_letter_retry(dead_letter=dead_letter, actor=request.user)
            except ApplicationError as error:
                self.message_user(request, error.message, messages.ERROR)
            else:
                self.message_user(
                    request, gettext("%(task)s is queued again.") % {"task": dead_letter}, messages.SUCCESS
                )
