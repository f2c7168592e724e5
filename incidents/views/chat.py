"""A team's chat channels (Slack, Microsoft Teams), managed by its leads: set, replace, clear, enable, test."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from incidents import policies
from incidents.forms import ChatWebhookForm
from incidents.models import ChatWebhook, Team
from incidents.selectors import chat as chat_selectors
from incidents.services import chat as chat_services
from incidents.views.common import viewer_of
from incidents.views.incidents import apply_service_errors

DONE = {
    "set": "Saved the {kind} webhook of {team}.",
    "clear": "Removed the {kind} webhook of {team}; nothing more is posted there.",
    "enable": "Enabled the {kind} webhook of {team} again.",
    "test": "A test message to {team}'s {kind} channel is on its way; reload this page to see how it went.",
}


def _act(viewer: policies.Viewer, team: Team, form: ChatWebhookForm) -> None:
    kind, action = form.cleaned_data["kind"], form.cleaned_data["action"]
    if action == "set":
        chat_services.chat_webhook_set(actor=viewer, team=team, kind=kind, url=form.cleaned_data["url"])
        return
    if action == "clear":
        chat_services.chat_webhook_clear(actor=viewer, team=team, kind=kind)
        return
    webhook = chat_selectors.chat_webhook_of(team=team, kind=kind)
    if webhook is None:
        raise ValidationError({"kind": "Set this channel's webhook URL first."})
    if action == "enable":
        chat_services.chat_webhook_enable(actor=viewer, webhook=webhook)
    else:
        chat_services.chat_webhook_test(actor=viewer, webhook=webhook)


@login_required
def chat_settings(request: HttpRequest, slug: str) -> HttpResponse:
    """The team's Slack and Teams channels: their state (URLs masked) and one form per action."""
    team = Team.objects.filter(slug=slug).first()
    if team is None:
        raise Http404("No such team.")
    viewer = viewer_of(request)
    policies.require(policies.may_manage_chat(viewer, team))
    form = ChatWebhookForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                _act(viewer, team, form)
            except ValidationError as error:
                apply_service_errors(form, error)
            else:
                kind = ChatWebhook.Kind(form.cleaned_data["kind"]).label
                messages.success(request, DONE[form.cleaned_data["action"]].format(kind=kind, team=team.name))
                return redirect("incidents:chat_settings", slug=team.slug)
    webhooks = chat_selectors.chat_webhooks_of(team=team)
    channels = [(kind, label, webhooks.get(kind)) for kind, label in ChatWebhook.Kind.choices]
    response = render(request, "incidents/chat_settings.html", {"team": team, "channels": channels, "form": form},
                      status=status)  # fmt: skip
    response["Cache-Control"] = "no-store"
    return response
