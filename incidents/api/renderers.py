"""The browsable API (the HTML pages of /api/v1/ for signed-in people)."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.urls import Resolver404, resolve
from rest_framework.renderers import BrowsableAPIRenderer


def is_a_page(url: str) -> bool:
    """Whether a breadcrumb's URL is a page of the API (every other URL under /api/ answers "No such API endpoint")."""
    from incidents.api.views import not_found  # the views use this module

    try:
        return resolve(urlsplit(url).path).func is not not_found
    except Resolver404:
        return False


class HindsightBrowsableAPIRenderer(BrowsableAPIRenderer):
    """DRF's breadcrumbs name every prefix of the path that resolves to a REST framework view. Under /api/ every
    path does (the catch-all JSON 404), so /api/v1/incidents/ read "Not Found / Api Root / Not Found / Incident
    List". Only real pages are kept: "Hindsight API v1 / Incident List"."""

    def get_breadcrumbs(self, request) -> list[tuple[str, str]]:
        return [(name, url) for name, url in super().get_breadcrumbs(request) if is_a_page(url)]
