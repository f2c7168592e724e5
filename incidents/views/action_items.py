"""Action items: mine, my team's and overdue, each closable from the list."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from incidents import policies, selectors, services
from incidents.forms import ActionItemCompleteForm
from incidents.models import ActionItem
from incidents.views.common import AuthedRequest, page_of, viewer_of

VIEWS = {"mine": "Mine", "team": "My teams'", "overdue": "Overdue"}


@login_required
@require_GET
def action_item_list(request: AuthedRequest) -> HttpResponse:
    show = request.GET.get("show", "mine")
    if show not in VIEWS:
        show = "mine"
    items = selectors.action_items_for(viewer=viewer_of(request), user=request.user, show=show)
    context = {"page": page_of(request, items), "show": show, "views": VIEWS, "today": timezone.localdate()}
    return render(request, "incidents/action_item_list.html", context)


@login_required
@require_POST
def action_item_complete(request: HttpRequest, pk: int) -> HttpResponse:
    viewer = viewer_of(request)
    try:
        item = selectors.action_item_get(viewer=viewer, pk=pk)
    except ActionItem.DoesNotExist:
        raise Http404("No such action item.") from None
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
