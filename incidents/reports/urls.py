"""Weekly trend report pages, mounted at /reports/ (issue: trend reports)."""

from __future__ import annotations

from django.urls import path

from incidents.reports import views

app_name = "reports"
urlpatterns = [
    path("", views.report_list, name="report_list"),
    path("generate/", views.report_generate, name="report_generate"),
    path("subscription/", views.subscription, name="subscription"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("<str:week>/<str:scope>/", views.report_detail, name="report_detail"),
    path("<str:week>/<str:scope>/data.json", views.report_json, name="report_json"),
    path("<str:week>/<str:scope>/data.csv", views.report_csv, name="report_csv"),
    path("<str:week>/<str:scope>/charts/<slug:name>.svg", views.report_chart, name="report_chart"),
]
