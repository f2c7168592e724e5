"""The Slack app's two request URLs: the /nearmiss command opens the modal, and its submission files the
near-miss through the same service as the web form (docs/slack.md)."""

from __future__ import annotations

import json
import re
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse

from incidents import selectors
from incidents.limits import TITLE_MAX, is_single_line, json_depth
from incidents.policies import may_file_for, viewer_for_user
from incidents.services.slack import SlackFiling, slack_near_miss_file
from incidents.slack import web_api
from incidents.slack.modal import (
    CALLBACK_ID,
    SlackNearMissForm,
    form_data,
    metadata_read,
    near_miss_modal,
    result_modal,
)
from incidents.slack.people import mrkdwn_escape, person_for_email
from incidents.slack.requests import slack_request

SLACK_ID = re.compile(r"[A-Z0-9]{1,40}")
TRIGGER_ID = re.compile(r"[0-9A-Za-z.]{1,200}")
UNREACHABLE = "Hindsight could not reach Slack to look you up; try again in a moment."


def _refused(status: int, reason: str) -> HttpResponse:
    return HttpResponse(reason, status=status, content_type="text/plain")


def _ephemeral(text: str) -> JsonResponse:
    return JsonResponse({"response_type": "ephemeral", "text": text})


def _other_workspace(team_id: object) -> bool:
    return bool(settings.SLACK_TEAM_ID) and team_id != settings.SLACK_TEAM_ID


@slack_request
def commands(request: HttpRequest, fields: dict[str, str]) -> HttpResponse:
    """/nearmiss [title]: open the near-miss modal for the Hindsight user the Slack user is."""
    if _other_workspace(fields.get("team_id")):
        return _ephemeral("This Slack workspace is not connected to Hindsight.")
    user_id, trigger_id = fields.get("user_id", ""), fields.get("trigger_id", "")
    if not SLACK_ID.fullmatch(user_id) or not TRIGGER_ID.fullmatch(trigger_id):
        return _refused(400, "Send Slack's slash command fields (user_id, trigger_id).")
    try:
        user, why = person_for_email(web_api.slack_email(user_id))
    except web_api.SlackUnavailable:
        return _ephemeral(UNREACHABLE)
    if user is None:
        return _ephemeral(why)
    if not selectors.teams_for_filing(user).exists():
        return _ephemeral("You are not a member of any team in Hindsight, so there is no team to file for. "
                          "Ask a team's lead or an admin to add you.")  # fmt: skip
    title = fields.get("text", "").strip()
    modal = near_miss_modal(
        user=user, response_url=fields.get("response_url", ""), channel=fields.get("channel_id", ""),
        title=title if len(title) <= TITLE_MAX and is_single_line(title) else "",
    )  # fmt: skip
    try:
        web_api.modal_open(trigger_id=trigger_id, view=modal)
    except web_api.SlackUnavailable:
        return _ephemeral("Slack did not open the form; try /nearmiss again.")
    return HttpResponse(status=200)


def _payload(fields: dict[str, str]) -> dict[str, Any] | HttpResponse:
    text = fields.get("payload")
    if text is None:
        return _refused(400, "Send the interaction as Slack does: a `payload` field of JSON.")
    if json_depth(text) > settings.API_MAX_JSON_DEPTH:
        return _refused(400, f"The payload is nested deeper than {settings.API_MAX_JSON_DEPTH} levels.")
    try:
        payload = json.loads(text)
    except (ValueError, RecursionError):
        return _refused(400, "The payload is not valid JSON.")
    if not isinstance(payload, dict):
        return _refused(400, "The payload is not a JSON object.")
    return payload


def _get(data: object, *path: str) -> Any:
    for key in path:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def _errors(errors: dict[str, str]) -> JsonResponse:
    return JsonResponse(
        {"response_action": "errors", "errors": {name: text[:300] for name, text in errors.items()}}
    )


@slack_request
def interactions(request: HttpRequest, fields: dict[str, str]) -> HttpResponse:
    """A submitted near-miss modal; every other interaction is acknowledged and ignored."""
    payload = _payload(fields)
    if isinstance(payload, HttpResponse):
        return payload
    if payload.get("type") != "view_submission" or _get(payload, "view", "callback_id") != CALLBACK_ID:
        return HttpResponse(status=200)
    if _other_workspace(_get(payload, "team", "id") or _get(payload, "user", "team_id")):
        return _refused(403, "This Slack workspace is not connected to Hindsight.")
    user_id, view_id = _get(payload, "user", "id"), _get(payload, "view", "id")
    if not all(isinstance(value, str) and SLACK_ID.fullmatch(value) for value in (user_id, view_id)):
        return _refused(400, "Send Slack's view_submission fields (user.id, view.id).")
    try:
        user, why = person_for_email(web_api.slack_email(user_id))
    except web_api.SlackUnavailable:
        return _errors({"title": UNREACHABLE})
    if user is None:
        return _errors({"team": why})
    return _file(user, view_id=view_id, view=payload["view"])


def _file(user, *, view_id: str, view: dict[str, Any]) -> HttpResponse:
    """Validate the modal's values, ask the policy, file once per view, and reply."""
    form = SlackNearMissForm(form_data(view.get("state")), user=user)
    if not form.is_valid():
        return _errors(form.slack_errors())
    data = form.cleaned_data
    if not (decision := may_file_for(viewer_for_user(user), data["team"])):
        return _errors({"team": decision.rule})
    try:
        filed = slack_near_miss_file(view_id=view_id, reporter=user, **data)
    except ValidationError as error:
        messages = error.message_dict if hasattr(error, "error_dict") else {"title": error.messages}
        return _errors({(name if name in form.fields else "title"): text[0] for name, text in messages.items()})
    except PermissionDenied as error:
        return _errors({"team": str(error) or "You may not file for this team."})
    text = _reply(filed)
    if filed.filing is not None:
        response_url = metadata_read(view.get("private_metadata")).get("response_url")
        if response_url:
            web_api.reply_post(response_url, text=text)
    return JsonResponse({"response_action": "update", "view": result_modal(text)})


def _reply(filed: SlackFiling) -> str:
    """What the person is told: the number and a link, or for a confidential report the receipt code and the
    receipt page (never its number)."""
    if filed.filing is None:
        if filed.earlier_reference:
            return f"This near-miss is filed already as {_link(filed.earlier_reference)}."
        return "This near-miss is filed already; its receipt code was shown when it was filed."
    incident, code = filed.filing.incident, filed.filing.receipt_code
    if code:
        page = settings.SITE_URL + reverse("incidents:receipt", args=[code])
        text = (f"Your confidential near-miss is filed. Your receipt code is `{code}`: keep it, it is shown only "
                f"this once. Follow the report at <{page}|its receipt page>.")  # fmt: skip
    else:
        text = f"Filed {_link(incident.reference)}: {mrkdwn_escape(incident.title)}"
    if filed.filing.redactions:
        text += "\nSome text looked like secrets or personal data and was replaced."
    return text


def _link(reference: str) -> str:
    url = settings.SITE_URL + reverse("incidents:incident_detail", args=[reference])
    return f"<{url}|{reference}>"
