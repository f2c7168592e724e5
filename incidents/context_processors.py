"""Template context for every page."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def hindsight_environment(request: HttpRequest) -> dict[str, str]:
    """Which instance this is (development, staging, production): every page shows it."""
    return {"hindsight_env": settings.HINDSIGHT_ENV}
