"""The application's URLs plus P4's baseline: a minimal view that inserts the row the API inserts."""

from __future__ import annotations

from django.urls import path

from bench.baseline import baseline_incident_create
from config.urls import urlpatterns as app_urlpatterns

urlpatterns = [
    path("bench/baseline/incidents/", baseline_incident_create, name="bench_baseline_incident_create"),
    *app_urlpatterns,
]
