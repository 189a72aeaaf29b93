"""User notifications in the admin, read-only, each in the staff member's language."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from payments.notifications.models import UserNotification
from wallet.adminkit import ReadOnlyMixin


@admin.register(UserNotification)
class UserNotificationAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("created_at", "user", "kind", "reference", "text", "sent_at")
    list_filter = ("kind", ("sent_at", admin.EmptyFieldListFilter), "created_at")
    list_select_related = ("user",)
    search_fields = ("reference__exact", "user__username__exact")
    ordering = ("-created_at", "-id")

    @admin.display(description=_("message"))
    def text(self, notification: UserNotification) -> str:
        return notification.text()
