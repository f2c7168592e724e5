"""The API for tools, mounted at /api/: v1 resources, the OpenAPI schema and its interactive docs."""

from __future__ import annotations

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from incidents.api import chat, views
from incidents.api.receivers import receiver_urls

app_name = "api"

router = DefaultRouter()
router.APIRootView = views.ApiRootView  # "Hindsight API v1": its resources, schema and docs
router.include_format_suffixes = False
router.register("incidents", views.IncidentViewSet, basename="incident")
router.register("action-items", views.ActionItemViewSet, basename="action-item")
router.register("releases", views.ReleaseViewSet, basename="release")
router.register("deployments", views.DeploymentViewSet, basename="deployment")
router.register("causes", views.CauseViewSet, basename="cause")
router.register("environments", views.EnvironmentViewSet, basename="environment")
router.register("services", views.ServiceViewSet, basename="service")
router.register("teams", views.TeamViewSet, basename="team")
router.register("reports", views.ReportViewSet, basename="report")

urlpatterns = [
    *receiver_urls(),
    path("v1/teams/<str:slug>/chat/<str:kind>/", chat.ChatWebhookView.as_view(), name="team-chat"),
    path("v1/", include(router.urls)),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    re_path(r"", views.not_found),
]
