"""The triage inbox: what tools post lands here; a person promotes it or dismisses it, one item at a time or
several ticked at once."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils.html import format_html
from django.views.decorators.http import require_GET, require_POST

from incidents import policies, selectors, services
from incidents.filters import TriageFilter
from incidents.forms import TRIAGE_BULK_MAX, TriageBulkForm, TriageForm, style_filter_form
from incidents.models import Incident
from incidents.views.common import AuthedRequest, incident_or_404, page_of, query_without, viewer_of


def _inbox(request: HttpRequest, *, bulk_form: TriageBulkForm | None = None, status: int = 200) -> HttpResponse:
    """The inbox, filtered by the query string (source, team, environment, order), with the bulk form."""
    viewer = viewer_of(request)
    items = selectors.triage_inbox(viewer=viewer)
    filterset = TriageFilter(
        request.GET, queryset=items, sources=selectors.triage_sources(viewer=viewer),
        teams=selectors.triage_teams(viewer=viewer),
    )  # fmt: skip
    style_filter_form(filterset.form)
    valid = filterset.is_valid()
    context = {
        "filter": filterset,
        "page": page_of(request, filterset.qs if valid else Incident.objects.none()),
        "query": query_without(request, "page"),
        "bulk_form": bulk_form or TriageBulkForm(),
        "bulk_max": TRIAGE_BULK_MAX,
        "filtered": any(value for name, value in request.GET.items() if name != "page"),
    }
    return render(request, "incidents/triage_inbox.html", context, status=status)


@login_required
@require_GET
def triage_inbox(request: HttpRequest) -> HttpResponse:
    return _inbox(request)


ACTED = {"incident": "promoted to incidents (drafts)", "near_miss": "promoted to near-misses (drafts)",
         "dismiss": "dismissed"}  # fmt: skip


@login_required
@require_POST
def triage_bulk(request: AuthedRequest) -> HttpResponse:
    """Promote or dismiss every ticked item the person may triage; the others are left alone and reported."""
    form = TriageBulkForm(request.POST)
    if not form.is_valid():
        return _inbox(request, bulk_form=form, status=400)
    actor = viewer_of(request)
    references = form.cleaned_data["items"]
    found = selectors.triage_items_named(viewer=actor, references=references)
    action = form.cleaned_data["action"]
    outcome = services.triage_bulk(actor=actor, incidents=found, action=action, editor=request.user)
    if outcome.done:
        messages.success(request, f"{len(outcome.done)} item{pluralize(len(outcome.done))} {ACTED[action]}.")
    if outcome.not_allowed:
        names = ", ".join(f"“{item.title}” ({item.team.name})" for item in outcome.not_allowed[:10])
        messages.error(request, f"Skipped, as you may not triage them: {names}.")
    for item, reason in outcome.failed[:10]:
        messages.error(request, f"“{item.title}” was left as it is: {reason}")
    if missing := len(set(references)) - len(found):
        messages.warning(request, f"{missing} ticked item{pluralize(missing)} {pluralize(missing, 'is,are')} "
                                  "no longer in triage; nothing was done to them.")  # fmt: skip
    return redirect("incidents:triage_inbox")


@login_required
@require_POST
def triage_act(request: AuthedRequest, reference: str) -> HttpResponse:
    incident = incident_or_404(request, reference)
    actor = viewer_of(request)
    policies.require(policies.may_triage(actor, incident))  # before reading the form; the services check again
    form = TriageForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose to promote or dismiss.")
        return redirect("incidents:triage_inbox")
    action, version = form.cleaned_data["action"], form.cleaned_data["expected_version"]
    try:
        if action == "dismiss":
            if incident.status != Incident.Status.TRIAGE:
                raise ValidationError(f"{incident.reference} is not in triage any more.")
            services.postmortem_update(
                actor=actor, incident=incident, editor=request.user, expected_version=version,
                changes={"status": Incident.Status.DISMISSED},
            )  # fmt: skip
            messages.success(request, f"{incident.reference} dismissed. It stays on record and can be restored.")
        else:
            old = f"“{incident.title}” (from {incident.source})"
            incident = services.triage_promote(actor=actor, incident=incident, kind=action, expected_version=version,
                                               editor=request.user)  # fmt: skip
            url = reverse("incidents:incident_detail", args=[incident.reference])
            messages.success(
                request, format_html('{} promoted to <a href="{}">{}</a>, a draft.', old, url, incident.reference)
            )
    except services.VersionConflict:
        messages.error(request, f"{incident.reference} was changed meanwhile; nothing was changed.")
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect("incidents:triage_inbox")
