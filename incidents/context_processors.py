"""Template context for every page."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest


def hindsight_environment(request: HttpRequest) -> dict[str, str]:
    """Which instance this is (development, staging, production): every page shows it."""
    return {"hindsight_env": settings.HINDSIGHT_ENV}


def navigation(request: HttpRequest) -> dict[str, bool]:
    """Whether the navigation links to the admin: exactly when the admin site itself would let this person in."""
    return {"may_open_admin": admin.site.has_permission(request)}
