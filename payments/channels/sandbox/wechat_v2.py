"""Sandbox endpoints of the wechat_v2 protocol (built in issue 4)."""

urlpatterns: list = []
