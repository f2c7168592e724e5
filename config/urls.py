from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from incidents.views import ops

urlpatterns = [
    # Probes and metrics (docs/operations.md): outside every app prefix, no login, never redirected to HTTPS.
    path("healthz", ops.healthz, name="healthz"),
    path("readyz", ops.readyz, name="readyz"),
    path("metrics", ops.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/", include("incidents.api.urls")),
    path("reports/", include("incidents.reports.urls")),
    path("", include("incidents.urls")),
]
