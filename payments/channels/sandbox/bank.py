"""Sandbox endpoints of the bank protocol (built in issue 4)."""

urlpatterns: list = []
