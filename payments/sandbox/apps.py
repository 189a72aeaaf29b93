from django.apps import AppConfig


class SandboxConfig(AppConfig):
    """Installed only while SANDBOX_ENABLED is on (config.settings); then it serves the channels
    that have no credentials."""

    name = "payments.sandbox"
    label = "sandbox"
    verbose_name = "Channel sandbox"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from payments.channels import registry
        from payments.sandbox.adapters import sandbox_adapter

        registry.sandbox_register(sandbox_adapter)
