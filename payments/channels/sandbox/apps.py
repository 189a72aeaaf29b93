from django.apps import AppConfig


class SandboxConfig(AppConfig):
    name = "payments.channels.sandbox"
    label = "sandbox"
    verbose_name = "Channel sandbox"
    default_auto_field = "django.db.models.BigAutoField"
