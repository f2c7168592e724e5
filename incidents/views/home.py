"""The home page: this week at a glance, a way to report a near-miss, my action items."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from incidents import selectors
from incidents.limits import LIST_MAX
from incidents.models import Environment, Incident
from incidents.policies import Viewer
from incidents.views.common import AuthedRequest, viewer_of
from incidents.weeks import Week

RECENT = 8
MY_ITEMS = 10
MY_REVIEWS = 10


def _list_link(*pairs: tuple[str, str]) -> str:
    return f"{reverse('incidents:incident_list')}?{urlencode(pairs)}"


def _led_team_slugs(viewer: Viewer) -> list[tuple[str, str]]:
    if not viewer.lead_team_ids:
        return []
    return [("team", slug) for slug in selectors.team_slugs(team_ids=viewer.lead_team_ids)]


def _tile_links(week: Week) -> dict[str, str | None]:
    """Each tile of this week's glance links to the incident list filtered to exactly what it counts
    (selectors.week_at_a_glance: counted items that started this week)."""
    base = [
        ("counted", "true"),
        ("started_from", week.monday.isoformat()),
        ("started_to", week.sunday.isoformat()),
    ]
    incident = ("kind", Incident.Kind.INCIDENT)
    production = selectors.environment_slugs_of_kind(kind=Environment.Kind.PRODUCTION)
    return {
        "incidents": _list_link(*base, incident),
        "near_misses": _list_link(*base, ("kind", Incident.Kind.NEAR_MISS)),
        "sev1": _list_link(*base, incident, ("severity", Incident.Severity.SEV1)),
        "sev2": _list_link(*base, incident, ("severity", Incident.Severity.SEV2)),
        # No production environment (or more than a filter takes): the tile counts, but a list cannot show it.
        "caught_in_prod": _list_link(*base, *[("environment", slug) for slug in production])
        if 0 < len(production) <= LIST_MAX
        else None,
        "caught_by_luck": _list_link(*base, ("caught_by", Incident.CaughtBy.LUCK)),
    }


@login_required
def home(request: AuthedRequest) -> HttpResponse:
    viewer = viewer_of(request)
    week = Week.current()
    glance = selectors.week_at_a_glance(viewer=viewer, start=week.start, end=week.end)
    mine = selectors.action_items_for(viewer=viewer, user=request.user, show="mine")
    reviews = selectors.awaiting_review_by(viewer=viewer) if viewer.lead_team_ids else None
    context = {
        "tile_links": _tile_links(week),
        "reviews": list(reviews[:MY_REVIEWS]) if reviews is not None else None,
        "reviews_count": reviews.count() if reviews is not None else 0,
        "reviews_link": _list_link(("status", Incident.Status.IN_REVIEW), *_led_team_slugs(viewer)),
        "glance": glance,
        "week_label": week.label,
        "week_start": week.monday,
        "week_end": week.sunday,
        "my_items": list(mine[:MY_ITEMS]),
        "my_items_count": mine.count(),
        "recent": list(selectors.incident_list(viewer=viewer).order_by("-started_at", "-id")[:RECENT]),
        "triage_count": selectors.triage_inbox(viewer=viewer).count() if viewer.team_ids or viewer.is_admin else 0,
        "today": timezone.localdate(),
    }
    return render(request, "incidents/home.html", context)
