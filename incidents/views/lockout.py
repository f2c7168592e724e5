"""The answer to a login attempt while its username and address are locked out (django-axes)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def locked_out(request: HttpRequest, credentials: dict | None = None, *args, **kwargs) -> HttpResponse:
    """429 with a page that says what happened and when to try again, and a Retry-After header."""
    seconds = settings.AXES_COOLOFF_MINUTES * 60
    context = {"failure_limit": settings.AXES_FAILURE_LIMIT, "minutes": max(1, seconds // 60)}
    response = render(request, "registration/locked_out.html", context, status=429)
    response["Retry-After"] = str(seconds)
    return response
