"""Top-level routes: the metrics and probes, admin, the language switch, API v1, OpenAPI schema and
its docs (Swagger UI, Redoc), and the channel sandbox."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from config.observability import views as observability

handler404 = "wallet.rest.errors.page_not_found"
handler500 = "wallet.rest.errors.server_error"

urlpatterns = [
    path("metrics", observability.metrics, name="metrics"),
    path("healthz", observability.healthz, name="healthz"),
    path("readyz", observability.ReadinessView.as_view(), name="readyz"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", include("wallet.api.urls")),
    path("api/v1/", include("payments.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema", template_name="api/redoc.html"), name="redoc"),
]

if settings.SANDBOX_ENABLED:
    urlpatterns.append(path("sandbox/", include("payments.sandbox.urls")))
