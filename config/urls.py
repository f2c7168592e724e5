from __future__ import annotations

from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path

from incidents import sso
from incidents.urls import report_urlpatterns
from incidents.views import ops

# Log-in and log-out: there is no self-service password reset or change. Admins set passwords in the admin or with
# `manage.py changepassword`. Single sign-on (docs/sso.md) answers under oidc/ when OIDC_ISSUER is set (404
# otherwise); break-glass/ is the superusers' password door while PASSWORD_LOGIN=false (404 otherwise).
accounts: list[URLPattern | URLResolver] = [
    path("login/", sso.LoginView.as_view(), name="login"),
    path("logout/", sso.LogoutView.as_view(), name="logout"),
    path("break-glass/", sso.BreakGlassView.as_view(), name="break_glass"),
    path("oidc/", include("mozilla_django_oidc.urls")),
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
