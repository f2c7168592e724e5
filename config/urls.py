from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from incidents.urls import report_urlpatterns
from incidents.views import ops

# Only log-in and log-out from django.contrib.auth: there is no self-service password reset or change. Admins set
# passwords in the admin or with `manage.py changepassword`; single sign-on comes later (docs/data-hygiene.md).
accounts = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]

urlpatterns = [
    # Probes and metrics (docs/operations.md): outside every app prefix, no login, never redirected to HTTPS.
    path("healthz", ops.healthz, name="healthz"),
    path("readyz", ops.readyz, name="readyz"),
    path("metrics", ops.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("accounts/", include(accounts)),
    path("api/", include("incidents.api.urls")),
    # The Slack app's requests (docs/slack.md): signed by Slack, answered only when the app is configured.
    path("slack/", include("incidents.slack.urls")),
    path("reports/", include((report_urlpatterns, "reports"))),
    path("", include("incidents.urls")),
]
