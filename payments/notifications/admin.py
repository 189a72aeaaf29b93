"""User notifications in the admin, read-only."""

from django.contrib import admin

from payments.notifications.models import UserNotification
from wallet.adminkit import ReadOnlyMixin


@admin.register(UserNotification)
class UserNotificationAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("created_at", "user", "kind", "reference", "message", "sent_at")
    list_filter = ("kind", ("sent_at", admin.EmptyFieldListFilter), "created_at")
    list_select_related = ("user",)
    search_fields = ("reference__exact", "user__username__exact")
    ordering = ("-created_at", "-id")
