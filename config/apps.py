"""The project itself as an app: after every ``migrate`` it applies the staff roles and the
periodic tasks declared in config.roles and config.schedules; it guards the beat schedules in
the admin (config.admin) and refuses unsafe settings (config.checks)."""

from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class ProjectConfig(AppConfig):
    name = "config"
    label = "project"
    verbose_name = _("Project")

    def ready(self) -> None:
        from config import checks  # noqa: F401 - registers the checks
        from config.observability.db import query_counting_install

        query_counting_install()

        # Django signals post_migrate once per app that has models, in INSTALLED_APPS order;
        # the last one's comes after every app created its content types and permissions.
        last = [config for config in apps.get_app_configs() if config.models_module is not None][-1]
        post_migrate.connect(_apply_declarations, sender=last, dispatch_uid="project-declarations")


def _apply_declarations(sender, using: str = "default", **kwargs) -> None:
    from config.roles import roles_apply
    from config.schedules import schedules_apply

    roles_apply(using=using)
    schedules_apply(using=using)
