"""Releases and their path through the environments; environments with their mandate and catches."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from incidents import selectors
from incidents.models import Environment, Incident, Release
from incidents.views.common import page_of, query_without, viewer_of

RECENT_CATCHES = 10


@login_required
@require_GET
def release_list(request: HttpRequest) -> HttpResponse:
    service = request.GET.get("service") or None
    context = {
        "page": page_of(request, selectors.release_list(service_slug=service)),
        "services": selectors.services_with_releases(),
        "service": service,
        "query": query_without(request, "page"),
    }
    return render(request, "incidents/release_list.html", context)


@login_required
@require_GET
def release_detail(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        release = selectors.release_get(pk=pk)
    except Release.DoesNotExist:
        raise Http404("No such release.") from None
    incidents = selectors.release_incidents(viewer=viewer_of(request), release=release)
    return render(request, "incidents/release_detail.html", {"release": release, "incidents": incidents})


@login_required
@require_GET
def release_versions(request: HttpRequest) -> HttpResponse:
    """The near-miss form's type-ahead: <option>s of the chosen service's newest versions (an HTML fragment)."""
    service = request.GET.get("service", "")
    prefix = request.GET.get("q", "")[:100]
    service_id = int(service) if service.isascii() and service.isdigit() and len(service) <= 18 else None
    versions = selectors.release_versions(service_id=service_id, prefix=prefix.replace("\x00", ""))
    return render(request, "incidents/_release_versions.html", {"versions": versions})


@login_required
@require_GET
def environment_list(request: HttpRequest) -> HttpResponse:
    environments = selectors.environment_summaries(viewer=viewer_of(request))
    return render(request, "incidents/environment_list.html", {"environments": environments})


@login_required
@require_GET
def environment_detail(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        environment = Environment.objects.get(slug=slug)
    except Environment.DoesNotExist:
        raise Http404("No such environment.") from None
    viewer = viewer_of(request)
    caught_by = [
        {"label": Incident.CaughtBy(row["caught_by"]).label if row["caught_by"] else "Not recorded", **row}
        for row in selectors.environment_caught_by(viewer=viewer, environment=environment)
    ]
    recent = selectors.incident_list(viewer=viewer).counted().filter(environment=environment)[:RECENT_CATCHES]
    context = {"environment": environment, "caught_by": caught_by, "recent": recent}
    return render(request, "incidents/environment_detail.html", context)
