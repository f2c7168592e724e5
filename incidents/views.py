"""Web pages: views translate requests into one selector or service call and render a template."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from incidents import selectors
from incidents.filters import IncidentFilter
from incidents.models import Incident

PAGE_SIZE = 25


@login_required
def incident_list(request: HttpRequest) -> HttpResponse:
    viewer = selectors.viewer_for_user(request.user)
    filterset = IncidentFilter(request.GET, queryset=selectors.incident_list(viewer=viewer))
    incidents = filterset.qs if filterset.is_valid() else Incident.objects.none()
    page = Paginator(incidents, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "incidents/incident_list.html", {"filter": filterset, "page": page})


@login_required
def incident_detail(request: HttpRequest, reference: str) -> HttpResponse:
    viewer = selectors.viewer_for_user(request.user)
    try:
        incident = selectors.incident_get(viewer=viewer, reference=reference)
    except Incident.DoesNotExist:
        raise Http404("No such incident.") from None
    return render(request, "incidents/incident_detail.html", {"incident": incident})
