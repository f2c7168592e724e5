from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/", include("incidents.api.urls")),
    path("reports/", include("incidents.reports.urls")),
    path("", include("incidents.urls")),
]
