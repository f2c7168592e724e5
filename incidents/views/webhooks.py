"""A team's outbound webhook subscriptions, managed by its leads (and admins): add (the signing secret shown once),
send a test event, disable, enable, delete (docs/outbound-webhooks.md)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from incidents import policies
from incidents.forms import WebhookActionForm, WebhookSubscriptionForm
from incidents.models import Team, WebhookSubscription
from incidents.selectors import webhooks as webhook_selectors
from incidents.services import webhooks as webhook_services
from incidents.views.common import viewer_of
from incidents.views.incidents import apply_service_errors

SHOW_ONCE_SESSION_KEY = "new_webhook_secret"
DONE = {
    "test": "A test event to “{name}” is on its way; reload this page to see how it went.",
    "disable": "Disabled “{name}”: nothing more is sent to it until it is enabled again.",
    "enable": "Enabled “{name}” again.",
    "delete": "Deleted “{name}” and its delivery log; nothing more is sent to it.",
}


def _managed_team(request: HttpRequest, slug: str) -> tuple[Team, policies.Viewer]:
    team = Team.objects.filter(slug=slug).first()
    if team is None:
        raise Http404("No such team.")
    viewer = viewer_of(request)
    policies.require(policies.may_manage_webhooks(viewer, team))
    return team, viewer


def _page(request: HttpRequest, team: Team, form: Form, *, status: int = 200, action_form: Form | None = None
          ) -> HttpResponse:  # fmt: skip
    created = None
    held = request.session.pop(SHOW_ONCE_SESSION_KEY, None) if request.method == "GET" else None
    if held is not None:
        subscription = webhook_selectors.webhook_subscription_of(team=team, pk=held[0])
        created = (subscription, held[1]) if subscription is not None else None
    context = {"team": team, "form": form, "action_form": action_form, "created": created,
               "subscriptions": webhook_selectors.webhook_subscriptions_of(team=team)}  # fmt: skip
    response = render(request, "incidents/webhook_list.html", context, status=status)
    response["Cache-Control"] = "no-store"  # the page may hold a signing secret
    return response


def _form(request: HttpRequest, viewer: policies.Viewer, *, bound: bool = True) -> WebhookSubscriptionForm:
    may_include = bool(policies.may_let_webhooks_receive_confidential(viewer))
    data = (request.POST or None) if bound else None
    return WebhookSubscriptionForm(data, may_include_confidential=may_include)


@login_required
def webhook_list(request: HttpRequest, slug: str) -> HttpResponse:
    """The team's subscriptions (URLs masked, their health) and the form for a new one. A new subscription's
    secret is shown once, on the page the creation redirects to; only the subscription keeps it."""
    team, viewer = _managed_team(request, slug)
    form = _form(request, viewer)
    if request.method != "POST":
        return _page(request, team, form)
    if form.is_valid():
        data = form.cleaned_data
        try:
            subscription = webhook_services.webhook_subscription_create(
                actor=viewer, team=team, name=data["name"], url=data["url"], event_types=data["event_types"],
                include_confidential=data.get("include_confidential", False),
            )  # fmt: skip
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            request.session[SHOW_ONCE_SESSION_KEY] = [subscription.pk, subscription.secret]
            return redirect("incidents:webhook_list", slug=team.slug)
    return _page(request, team, form, status=400)


def _act(request: HttpRequest, viewer: policies.Viewer, subscription: WebhookSubscription, action: str) -> None:
    if action == "test":
        webhook_services.webhook_test_send(actor=viewer, subscription=subscription)
    elif action == "delete":
        webhook_services.webhook_subscription_delete(actor=viewer, subscription=subscription)
    else:
        webhook_services.webhook_subscription_switch(
            actor=viewer, subscription=subscription, active=action == "enable", by=request.user.get_username()
        )


@login_required
@require_POST
def webhook_act(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """Test, disable, enable or delete one of the team's subscriptions; another team's answers 404."""
    team, viewer = _managed_team(request, slug)
    subscription = webhook_selectors.webhook_subscription_of(team=team, pk=pk)
    if subscription is None:
        raise Http404("No such webhook subscription.")
    action_form = WebhookActionForm(request.POST)
    if action_form.is_valid():
        action = action_form.cleaned_data["action"]
        try:
            _act(request, viewer, subscription, action)
        except ValidationError as error:
            apply_service_errors(action_form, error)
        else:
            messages.success(request, DONE[action].format(name=subscription.name))
            return redirect("incidents:webhook_list", slug=team.slug)
    return _page(request, team, _form(request, viewer, bound=False), status=400, action_form=action_form)
