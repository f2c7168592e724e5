"""A team's API tokens, managed in the app by its leads (and admins): create (the secret shown once) and revoke."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from incidents import policies, selectors, services
from incidents.forms import ApiTokenForm
from incidents.models import ApiToken
from incidents.selectors import chat as chat_selectors
from incidents.views.common import viewer_of
from incidents.views.incidents import apply_service_errors

SHOW_ONCE_SESSION_KEY = "new_api_credential"


@login_required
def token_list(request: HttpRequest) -> HttpResponse:
    """The tokens of the teams the person leads (every team for an admin), and a form for a new one. A token just
    created is shown once, on the page the creation redirects to (so reloading it neither posts again nor shows
    the secret again): the secret waits in the session for that one answer; only its hash is stored."""
    viewer = viewer_of(request)
    policies.require(policies.may_manage_some_tokens(viewer))
    teams = selectors.teams_for_token_management(viewer=viewer)
    form = ApiTokenForm(request.POST or None, teams=teams)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                token, raw = services.api_token_create(
                    name=form.cleaned_data["name"], team=form.cleaned_data["team"],
                    scope=form.cleaned_data["scope"], actor=viewer,
                )  # fmt: skip
            except ValidationError as error:
                apply_service_errors(form, error)
            else:
                request.session[SHOW_ONCE_SESSION_KEY] = [token.pk, raw]
                return redirect("incidents:token_list")
    created = None
    held = request.session.pop(SHOW_ONCE_SESSION_KEY, None) if request.method == "GET" else None
    if held is not None:
        try:
            created = (selectors.api_token_managed_get(viewer=viewer, pk=held[0]), held[1])
        except ApiToken.DoesNotExist:  # revoked and gone, or no longer a team this person manages
            created = None
    context = {"form": form, "tokens": list(selectors.api_tokens_managed(viewer=viewer)), "created": created,
               "chat_teams": list(chat_selectors.chat_teams_managed(viewer=viewer))}  # fmt: skip
    response = render(request, "incidents/token_list.html", context, status=status)
    response["Cache-Control"] = "no-store"  # the page may hold a token's secret
    return response


@login_required
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    """Revoke a token of a team the person manages; another team's token answers 404, as one that does not exist."""
    viewer = viewer_of(request)
    try:
        token = selectors.api_token_managed_get(viewer=viewer, pk=pk)
    except ApiToken.DoesNotExist:
        policies.require(policies.may_manage_some_tokens(viewer))
        raise Http404("No such token.") from None
    services.api_token_revoke(token=token, actor=viewer)
    messages.success(request, f"Revoked the token “{token.name}” of {token.team.name}; it no longer works.")
    return redirect("incidents:token_list")
