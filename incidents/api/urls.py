"""The API for tools, mounted at /api/ (issue: the API)."""

from __future__ import annotations

app_name = "api"
urlpatterns: list = []
