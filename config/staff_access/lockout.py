"""The page django-axes answers (429) to a sign-in it refuses (AXES_LOCKOUT_CALLABLE): the admin's
look, the username and how long the lock lasts, in the reader's language."""

from datetime import timedelta

from axes.helpers import get_client_username
from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None
) -> HttpResponse:
    context = {
        **admin.site.each_context(request),
        "username": get_client_username(request, credentials) or "",
        "cooloff_minutes": settings.AXES_COOLOFF_TIME // timedelta(minutes=1),
    }
    return render(request, "admin/lockout.html", context, status=429)
