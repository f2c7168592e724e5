"""Web pages for people (issue: the web app)."""

from __future__ import annotations

app_name = "incidents"
urlpatterns: list = []
