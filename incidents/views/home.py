"""The home page: this week at a glance, a way to report a near-miss, my action items."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from incidents import selectors
from incidents.views.common import viewer_of

RECENT = 8
MY_ITEMS = 10


def this_week() -> tuple[dt.datetime, dt.datetime]:
    """Monday 00:00 to next Monday 00:00 in TIME_ZONE."""
    today = timezone.localdate()
    monday = today - dt.timedelta(days=today.weekday())
    start = timezone.make_aware(dt.datetime.combine(monday, dt.time.min))
    return start, timezone.make_aware(dt.datetime.combine(monday + dt.timedelta(days=7), dt.time.min))


@login_required
def home(request: HttpRequest) -> HttpResponse:
    viewer = viewer_of(request)
    start, end = this_week()
    glance = selectors.week_at_a_glance(viewer=viewer, start=start, end=end)
    mine = selectors.action_items_for(viewer=viewer, user=request.user, show="mine")
    year, week, _ = start.isocalendar()
    context = {
        "glance": glance,
        "week_label": f"{year}-W{week:02d}",
        "week_start": start.date(),
        "week_end": (end - dt.timedelta(days=1)).date(),
        "my_items": list(mine[:MY_ITEMS]),
        "my_items_count": mine.count(),
        "recent": list(selectors.incident_list(viewer=viewer).order_by("-started_at", "-id")[:RECENT]),
        "triage_count": selectors.triage_inbox(viewer=viewer).count() if viewer.team_ids or viewer.is_admin else 0,
        "today": timezone.localdate(),
    }
    return render(request, "incidents/home.html", context)
