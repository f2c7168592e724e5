"""The browsable API (the HTML pages of /api/v1/ for signed-in people)."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.urls import Resolver404, resolve
from rest_framework.renderers import BrowsableAPIRenderer

# The API's catch-all view (incidents/api/urls.py), named rather than imported: the views use this module.
NOT_FOUND = "incidents.api.views.not_found"


def is_a_page(url: str) -> bool:
    """Whether a breadcrumb's URL is a page of the API (every other URL under /api/ answers "No such API endpoint")."""
    try:
        view = resolve(urlsplit(url).path).func  # an @api_view function is a class's as_view() named after it
        return f"{view.__module__}.{getattr(view, 'cls', view).__name__}" != NOT_FOUND
    except Resolver404:
        return False


class HindsightBrowsableAPIRenderer(BrowsableAPIRenderer):
    """DRF's breadcrumbs name every prefix of the path that resolves to a REST framework view. Under /api/ every
    path does (the catch-all JSON 404), so /api/v1/incidents/ read "Not Found / Api Root / Not Found / Incident
    List". Only real pages are kept: "Hindsight API v1 / Incident List"."""

    def get_breadcrumbs(self, request) -> list[tuple[str, str]]:
        return [(name, url) for name, url in super().get_breadcrumbs(request) if is_a_page(url)]
