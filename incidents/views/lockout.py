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


# django-axes stores the username of every failed attempt; PostgreSQL refuses NUL characters and values longer than
# the column, so a hostile login form must not reach it as typed (it would be a server error, not a failed log-in).
ATTEMPT_USERNAME_LENGTH = 150  # auth.User.username's length; axes' column holds 255


def attempt_username(request: HttpRequest, credentials: dict | None = None) -> str:
    """The username axes counts an attempt against: as typed, without NUL characters, cut to a storable length."""
    username = (credentials or {}).get("username")
    if username is None:
        username = request.POST.get("username", "")
    return str(username).replace("\x00", "")[:ATTEMPT_USERNAME_LENGTH]
