"""Helpers shared by the web views: who is looking, fetching what they may see, paging."""

from __future__ import annotations

from collections.abc import Mapping

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.models import User
from django.core.paginator import Page
from django.db.models import QuerySet
from django.http import Http404, HttpRequest

from incidents import policies, selectors
from incidents.blame import blame_hints, names_of, parse_phrases
from incidents.models import Cause, Incident, Team
from incidents.paginators import CappedPaginator
from incidents.redaction import describe_redactions


class AuthedRequest(HttpRequest):
    """The request of a login-required view: its user is a signed-in person, not AnonymousUser."""

    user: User


viewer_of = policies.viewer_of_request  # the request's viewer, computed once per request


def incident_or_404(request: HttpRequest, reference: str) -> Incident:
    try:
        return selectors.incident_get(viewer=viewer_of(request), reference=reference)
    except Incident.DoesNotExist:
        raise Http404("No such incident.") from None


def announce_redactions(request: HttpRequest, found: Mapping[str, Mapping[str, int]]) -> None:
    """Tell the person what redaction on ingest replaced in what they just saved (a service's redactions)."""
    if found:
        messages.warning(request, describe_redactions(found))


def page_of(request: HttpRequest, items: QuerySet, *, size: int | None = None) -> Page:
    return CappedPaginator(items, size or settings.WEB_PAGE_SIZE).get_page(request.GET.get("page"))


def query_without(request: HttpRequest, *names: str) -> str:
    """The current query string without the given parameters, for links that change only those."""
    query = request.GET.copy()
    for name in names:
        query.pop(name, None)
    return query.urlencode()


def hints_for(text: str, *, viewer: policies.Viewer, team: Team | None = None) -> list[dict]:
    """Blame-language hints for `text`, each with the system cause it suggests (when that cause exists)."""
    team_ids = set(viewer.team_ids) | ({team.pk} if team is not None else set())
    people = selectors.people_in_teams(team_ids=team_ids)
    hints = blame_hints(text, names=names_of(people), phrases=parse_phrases(settings.BLAME_PHRASES))
    if not hints:
        return []
    causes = {cause.slug: cause for cause in Cause.objects.filter(slug__in={h.cause_slug for h in hints})}
    return [{"hint": hint, "cause": causes.get(hint.cause_slug)} for hint in hints]


MAX_ID_DIGITS = 9


def ids_from(values: list[str], *, limit: int = 50) -> list[int]:
    """Row ids from query-string or form values; anything else (words, huge numbers) is ignored."""
    return [int(v) for v in values if v.isdigit() and len(v) <= MAX_ID_DIGITS][:limit]


class IdConverter:
    """A row id in a URL: 1 to 16 digits, enough for the random action item ids (up to 2**53 - 1) and short of
    overflowing a 64-bit database integer; a longer number matches no route (404)."""

    regex = "[0-9]{1,16}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)
