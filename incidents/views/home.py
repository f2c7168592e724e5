"""The home page: this week at a glance, a way to report a near-miss, my action items."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

from incidents import selectors
from incidents.views.common import AuthedRequest, viewer_of
from incidents.weeks import Week

RECENT = 8
MY_ITEMS = 10


@login_required
def home(request: AuthedRequest) -> HttpResponse:
    viewer = viewer_of(request)
    week = Week.current()
    glance = selectors.week_at_a_glance(viewer=viewer, start=week.start, end=week.end)
    mine = selectors.action_items_for(viewer=viewer, user=request.user, show="mine")
    context = {
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
