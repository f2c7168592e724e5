"""Web pages for people: `urlpatterns` (namespace "incidents", mounted at /) and `report_urlpatterns` (namespace
"reports", mounted at /reports/ by config/urls.py)."""

from __future__ import annotations

from django.urls import path, register_converter

from incidents.views import (
    action_items,
    catalogue,
    chat,
    exports,
    home,
    incidents,
    near_misses,
    reports,
    tokens,
    triage,
    webhooks,
)
from incidents.views.common import IdConverter

register_converter(IdConverter, "id")

app_name = "incidents"
urlpatterns = [
    path("", home.home, name="home"),
    path("incidents/", incidents.incident_list, name="incident_list"),
    path("incidents/export.csv", exports.incident_export, name="incident_export"),
    path("incidents/new/", incidents.incident_create, name="incident_create"),
    path("incidents/preview/", incidents.preview, name="preview"),
    path("incidents/similar/", incidents.similar, name="similar"),
    path("incidents/<str:reference>/", incidents.incident_detail, name="incident_detail"),
    path("incidents/<str:reference>/edit/", incidents.incident_edit, name="incident_edit"),
    path("incidents/<str:reference>/status/", incidents.incident_status, name="incident_status"),
    path("incidents/<str:reference>/timeline/", incidents.timeline_add, name="timeline_add"),
    path("incidents/<str:reference>/timeline/<slug:key>/", incidents.timeline_edit, name="timeline_edit"),
    path(
        "incidents/<str:reference>/timeline/<slug:key>/delete/", incidents.timeline_delete, name="timeline_delete"
    ),
    path("incidents/<str:reference>/action-items/", incidents.action_item_add, name="action_item_add"),
    path("incidents/<str:reference>/history/", incidents.incident_history, name="incident_history"),
    path("incidents/<str:reference>/history/<id:version>/", incidents.revision_diff, name="revision_diff"),
    path("incidents/<str:reference>/triage/", triage.triage_act, name="triage_act"),
    path("near-misses/new/", near_misses.near_miss_create, name="near_miss_create"),
    path("near-misses/<str:reference>/filed/", near_misses.near_miss_filed, name="near_miss_filed"),
    path("receipts/<str:code>/", near_misses.receipt, name="receipt"),
    path("triage/", triage.triage_inbox, name="triage_inbox"),
    path("triage/bulk/", triage.triage_bulk, name="triage_bulk"),
    path("action-items/", action_items.action_item_list, name="action_item_list"),
    path("action-items/<id:pk>/complete/", action_items.action_item_complete, name="action_item_complete"),
    path("action-items/<id:pk>/edit/", action_items.action_item_edit, name="action_item_edit"),
    path("releases/", catalogue.release_list, name="release_list"),
    path("releases/versions/", catalogue.release_versions, name="release_versions"),
    path("releases/<id:pk>/", catalogue.release_detail, name="release_detail"),
    path("environments/", catalogue.environment_list, name="environment_list"),
    path("environments/<slug:slug>/", catalogue.environment_detail, name="environment_detail"),
    path("tokens/", tokens.token_list, name="token_list"),
    path("tokens/<id:pk>/revoke/", tokens.token_revoke, name="token_revoke"),
    path("teams/<slug:slug>/chat/", chat.chat_settings, name="chat_settings"),
    path("teams/<slug:slug>/webhooks/", webhooks.webhook_list, name="webhook_list"),
    path("teams/<slug:slug>/webhooks/<id:pk>/", webhooks.webhook_act, name="webhook_act"),
]

# The weekly trend report pages, in their own namespace: reverse("reports:report_detail", ...).
report_urlpatterns = [
    path("", reports.report_list, name="report_list"),
    path("generate/", reports.report_generate, name="report_generate"),
    path("subscription/", reports.subscription, name="subscription"),
    path("digest/", reports.digest_preview, name="digest_preview"),
    path("unsubscribe/<str:token>/", reports.unsubscribe, name="unsubscribe"),
    path("<str:week>/<str:scope>/", reports.report_detail, name="report_detail"),
    path("<str:week>/<str:scope>/data.json", reports.report_json, name="report_json"),
    path("<str:week>/<str:scope>/data.csv", reports.report_csv, name="report_csv"),
    path("<str:week>/<str:scope>/charts/<slug:name>.svg", reports.report_chart, name="report_chart"),
]
