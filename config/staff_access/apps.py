"""The admin app with the project's site as ``admin.site``, so every ``admin.site.register``
in the apps lands on the site that enforces the second factor."""

from django.contrib.admin.apps import AdminConfig


class StaffAdminConfig(AdminConfig):
    default_site = "config.staff_access.sites.StaffAdminSite"
