"""Security headers Django 5.2 does not set itself (docs/OPERATIONS.md, "Production settings"):
a strict Content-Security-Policy on the admin's pages and a Permissions-Policy on every response.
Referrer-Policy, X-Content-Type-Options, Cross-Origin-Opener-Policy and HSTS come from Django's
SecurityMiddleware, X-Frame-Options from its clickjacking middleware."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import reverse

ADMIN_CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        # Django's admin runs no inline script; third-party pages that do lose only a convenience:
        # django-celery-beat's readable crontab line and django-import-export's "select all" box.
        "script-src 'self'",
        # Inline styles stay allowed: the project's admin templates carry <style> blocks and
        # django-import-export's export form style attributes. A style cannot run code.
        "style-src 'self' 'unsafe-inline'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
# No page of ours uses these browser features; a script injected anyway cannot reach them.
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "camera",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "payment",
        "usb",
    )
)


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        if request.path.startswith(reverse("admin:index")):
            response.headers.setdefault("Content-Security-Policy", ADMIN_CONTENT_SECURITY_POLICY)
        return response
