"""Weekly trend report pages, mounted at /reports/ (issue: trend reports)."""

from __future__ import annotations

app_name = "reports"
urlpatterns: list = []
