"""``{% load dashboard %}{% dashboard as board %}``: the admin index's dashboard for the signed-in
staff member (config.dashboard). A template tag library must live in an app's ``templatetags``;
the dashboard itself lives in config.dashboard."""

from django import template

from config.dashboard.panels import Dashboard, dashboard_for

register = template.Library()


@register.simple_tag(takes_context=True)
def dashboard(context: template.Context) -> Dashboard | None:
    return dashboard_for(context["request"].user)
