"""The triage inbox: what tools post lands here; a person promotes it or dismisses it, one click each."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.views.decorators.http import require_GET, require_POST

from incidents import policies, selectors, services
from incidents.forms import TriageForm
from incidents.models import Incident
from incidents.views.common import AuthedRequest, incident_or_404, page_of, viewer_of


@login_required
@require_GET
def triage_inbox(request: HttpRequest) -> HttpResponse:
    viewer = viewer_of(request)
    page = page_of(request, selectors.triage_inbox(viewer=viewer))
    return render(request, "incidents/triage_inbox.html", {"page": page})


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
            old = incident.reference
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
