"""Sandbox endpoints of the wechat_v3 protocol (built in issue 4)."""

urlpatterns: list = []
