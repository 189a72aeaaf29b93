from django.apps import AppConfig


class SandboxConfig(AppConfig):
    name = "payments.channels.sandbox"
    label = "sandbox"
    verbose_name = "Channel sandbox"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from payments.channels.sandbox import checks  # noqa: F401 - registers the checks
