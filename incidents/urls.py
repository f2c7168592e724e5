"""Web pages for people."""

from __future__ import annotations

from django.urls import path

from incidents import views

app_name = "incidents"
urlpatterns = [
    path("incidents/", views.incident_list, name="incident_list"),
    path("incidents/<str:reference>/", views.incident_detail, name="incident_detail"),
]
