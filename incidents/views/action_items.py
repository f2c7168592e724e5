"""Action items: mine, my team's, overdue and closed; each closable from the list, and editable on its own page."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from incidents import policies, selectors, services
from incidents.forms import ActionItemCompleteForm, ActionItemEditForm
from incidents.models import ActionItem
from incidents.views.common import AuthedRequest, announce_redactions, page_of, viewer_of
from incidents.views.incidents import apply_service_errors

VIEWS = {"mine": "Mine", "team": "My teams'", "overdue": "Overdue", "closed": "Closed"}


@login_required
@require_GET
def action_item_list(request: AuthedRequest) -> HttpResponse:
    show = request.GET.get("show", "mine")
    if show not in VIEWS:
        show = "mine"
    items = selectors.action_items_for(viewer=viewer_of(request), user=request.user, show=show)
    context = {"page": page_of(request, items), "show": show, "views": VIEWS, "today": timezone.localdate()}
    return render(request, "incidents/action_item_list.html", context)


def _action_item_or_404(viewer, pk: int) -> ActionItem:
    """The action item if the viewer may see it; a 404 otherwise, as for one that does not exist."""
    try:
        return selectors.action_item_get(viewer=viewer, pk=pk)
    except ActionItem.DoesNotExist:
        raise Http404("No such action item.") from None


@login_required
@require_POST
def action_item_complete(request: HttpRequest, pk: int) -> HttpResponse:
    viewer = viewer_of(request)
    item = _action_item_or_404(viewer, pk)
    policies.require(policies.may_complete(viewer, item))  # before reading the form; the service checks again
    form = ActionItemCompleteForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Close an item as done or won't do.")
    else:
        try:
            services.action_item_complete(actor=viewer, action_item=item, status=form.cleaned_data["status"])
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"“{item.title}” closed.")
    back = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(back)
    return redirect("incidents:action_item_list")


def _back_or(request: HttpRequest, fallback: str) -> str:
    """The page the person came from (`next`, on this site only), else `fallback`."""
    back = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return back
    return fallback


@login_required
@require_http_methods(["GET", "POST"])
def action_item_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Change an action item's title, owner (a member of its team) and due date."""
    viewer = viewer_of(request)
    item = _action_item_or_404(viewer, pk)
    policies.require(policies.may_edit_action_item(viewer, item))  # before reading the form; the service again
    form = ActionItemEditForm(request.POST or None, item=item)
    back = _back_or(
        request, reverse("incidents:incident_detail", args=[item.incident.reference]) + "#action-items"
    )
    if request.method == "POST" and form.is_valid() and not form.changes(item):
        messages.info(request, "Nothing was changed.")
        return redirect(back)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.action_item_update(actor=viewer, action_item=item, changes=form.changes(item))
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, f"“{saved.obj.title}” saved.")
            announce_redactions(request, saved.redactions)
            return redirect(back)
    status = 400 if form.is_bound else 200
    return render(request, "incidents/action_item_form.html", {"form": form, "item": item, "next": back},
                  status=status)  # fmt: skip
