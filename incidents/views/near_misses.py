"""Filing a near-miss in under a minute, the page that confirms it, and the confidential receipt."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from incidents import selectors, services
from incidents.forms import NearMissForm, model_choices
from incidents.models import ConfidentialReporter, Incident
from incidents.views.common import AuthedRequest, announce_redactions, ids_from, incident_or_404, viewer_of
from incidents.views.incidents import apply_service_errors

RECEIPT_SESSION_KEY = "near_miss_receipt"


@login_required
def near_miss_create(request: AuthedRequest) -> HttpResponse:
    form = NearMissForm(request.POST or None, user=request.user)
    if not model_choices(form, "team").exists():
        return render(request, "incidents/no_team.html", status=403)
    if request.method == "POST" and form.is_valid():
        try:
            filing = services.near_miss_report(reporter=request.user, **form.service_arguments())
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            announce_redactions(request, filing.redactions)
            if filing.receipt_code:
                # Shown once on the next page, then forgotten: only its hash is stored.
                request.session[RECEIPT_SESSION_KEY] = [filing.incident.reference, filing.receipt_code]
            return redirect("incidents:near_miss_filed", filing.incident.reference)
    similar = []
    if form.is_bound:
        similar = selectors.similar_incidents(
            viewer=viewer_of(request),
            title=form.data.get("title", ""),
            cause_ids=ids_from(request.POST.getlist("causes")),
            service_ids=ids_from(request.POST.getlist("service")),
        )
    status = 400 if form.is_bound else 200
    return render(request, "incidents/near_miss_form.html", {"form": form, "similar": similar}, status=status)


@login_required
@require_GET
def near_miss_filed(request: HttpRequest, reference: str) -> HttpResponse:
    receipt_code = None
    held = request.session.get(RECEIPT_SESSION_KEY)
    if held and held[0] == reference:
        receipt_code = held[1]
        del request.session[RECEIPT_SESSION_KEY]
    try:
        incident = incident_or_404(request, reference)
    except Http404:
        if receipt_code is None:
            raise
        incident = selectors.receipt_get(code=receipt_code)
    return render(request, "incidents/near_miss_filed.html", {"incident": incident, "receipt_code": receipt_code})


@login_required
@require_GET
def receipt(request: HttpRequest, code: str) -> HttpResponse:
    """A confidential reporter follows their report by its receipt code, even after their identity is purged."""
    try:
        incident = selectors.receipt_get(code=code)
    except ConfidentialReporter.DoesNotExist:
        raise Http404("No report has this receipt.") from None
    action_items = incident.action_items.order_by("due_date", "id")
    return render(
        request,
        "incidents/receipt.html",
        {"incident": incident, "action_items": action_items, "Status": Incident.Status},
    )
