"""Filing a near-miss in under a minute, the page that confirms it, and the confidential receipt."""

from __future__ import annotations

import re
import time

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from incidents import selectors, services
from incidents.forms import NearMissForm, model_choices
from incidents.models import ActionItem, ConfidentialReporter
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
    versions = selectors.release_versions(service_id=form.chosen_service_id())
    context = {"form": form, "similar": similar, "release_versions": versions}
    return render(request, "incidents/near_miss_form.html", context, status=status)


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


RECEIPT_CODE = re.compile(r"[A-Za-z0-9_-]{16,128}")  # codes are 32 characters (tokens.receipt_code_new)
RECEIPT_WINDOW_SECONDS = 60


def _receipt_lookups_left(request: HttpRequest) -> int | None:
    """Count one receipt look-up against the client address; the seconds until the next minute when it is one
    too many, None when it may go on. Without the cache (Redis away) look-ups carry on unlimited."""
    now = int(time.time())
    window = now // RECEIPT_WINDOW_SECONDS
    key = f"receipt-lookups:{request.META.get('REMOTE_ADDR', '')}:{window}"
    try:
        cache.add(key, 0, timeout=RECEIPT_WINDOW_SECONDS + 5)
        count = cache.incr(key)
    except Exception:  # a cache outage must not take the receipt page down
        return None
    if count <= settings.RECEIPT_LOOKUPS_PER_MINUTE:
        return None
    return (window + 1) * RECEIPT_WINDOW_SECONDS - now


@require_GET
def receipt(request: HttpRequest, code: str) -> HttpResponse:
    """A confidential reporter follows their report by its receipt code, even after their identity is purged.
    The code is the credential: no sign-in; the page shows the report's status and no more (docs/web.md)."""
    retry_after = _receipt_lookups_left(request)
    if retry_after is not None:
        response = render(request, "incidents/receipt_limited.html", {"seconds": retry_after}, status=429)
        response["Retry-After"] = str(retry_after)
        return response
    try:
        if not RECEIPT_CODE.fullmatch(code):
            raise ConfidentialReporter.DoesNotExist
        incident = selectors.receipt_get(code=code)
    except ConfidentialReporter.DoesNotExist:
        raise Http404("No report has this receipt.") from None
    follow_ups = incident.action_items.aggregate(
        total=Count("id"), done=Count("id", filter=~Q(status=ActionItem.Status.OPEN))
    )
    response = render(request, "incidents/receipt.html", {"incident": incident, "follow_ups": follow_ups})
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    return response
