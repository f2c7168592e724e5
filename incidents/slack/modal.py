"""The near-miss modal: the one-minute form's fields as Block Kit, and its submitted state read back and validated.

Each input block's block_id is the field's name and its element's action_id is "value", so that an error
(`response_action: errors`) names the block of the field to fix. The options are what the person may choose
(active causes, the teams they may file for); the submission is validated again all the same.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from itertools import groupby
from typing import Any

from django import forms
from django.contrib.auth.models import User

from incidents import selectors
from incidents.choices import IdsChoiceField
from incidents.limits import LIST_MAX, LONG_TEXT_MAX, TITLE_MAX, json_depth, validate_single_line
from incidents.models import Cause, Environment, Incident, Team

CALLBACK_ID = "hindsight_near_miss"
ACTION_ID = "value"
# Slack's limits: a plain_text_input holds at most 3000 characters, a select 100 options (or 100 groups of 100),
# an option's text 75 characters, private_metadata 3000.
SLACK_INPUT_MAX = 3000
SUMMARY_MAX = min(LONG_TEXT_MAX, SLACK_INPUT_MAX)
OPTIONS_MAX = 100
OPTION_TEXT_MAX = 75
METADATA_MAX = 3000
CONFIDENTIAL = "confidential"
CONFIDENTIAL_HINT = (
    "Your name is kept apart from the report and only admins can see it; you get a receipt code to follow it. "
    "Only your team's leads and admins can see a confidential near-miss."
)


def _text(text: str, *, limit: int = OPTION_TEXT_MAX) -> dict[str, str]:
    return {"type": "plain_text", "text": text if len(text) <= limit else text[: limit - 1] + "…"}


def _option(label: str, value: object) -> dict[str, Any]:
    return {"text": _text(label), "value": str(value)}


def _input(name: str, label: str, element: dict[str, Any], *, optional: bool = False, hint: str = "") -> dict:
    block: dict[str, Any] = {
        "type": "input", "block_id": name, "label": _text(label, limit=2000), "optional": optional,
        "element": {"action_id": ACTION_ID, **element},
    }  # fmt: skip
    if hint:
        block["hint"] = _text(hint, limit=2000)
    return block


def _select(options: Sequence[dict[str, Any]], *, placeholder: str) -> dict[str, Any]:
    return {"type": "static_select", "placeholder": _text(placeholder), "options": list(options[:OPTIONS_MAX])}


def cause_choices(causes: Iterable[Cause]) -> dict[str, Any]:
    """The causes' options: a flat list up to Slack's 100, past it one group per category (each up to 100)."""
    causes = list(causes)
    if len(causes) <= OPTIONS_MAX:
        return {"options": [_option(cause.name, cause.pk) for cause in causes]}
    labels = dict(Cause.Category.choices)
    by_category = groupby(sorted(causes, key=lambda cause: (cause.category, cause.name)), lambda c: c.category)
    groups = [
        {"label": _text(labels.get(category, category)),
         "options": [_option(cause.name, cause.pk) for cause in list(members)[:OPTIONS_MAX]]}
        for category, members in by_category
    ]  # fmt: skip
    return {"option_groups": groups[:OPTIONS_MAX]}


def private_metadata(*, response_url: str, channel: str) -> str:
    """What the submission needs of the command: where to reply. Read back as untrusted (metadata_read)."""
    metadata = json.dumps({"response_url": response_url[:500], "channel": channel[:50]})
    return metadata if len(metadata) <= METADATA_MAX else "{}"


def near_miss_modal(*, user: User, response_url: str, channel: str, title: str = "") -> dict[str, Any]:
    """The modal for `user`: the one-minute form's fields, with what they may choose (`title` filled in)."""
    teams = [_option(team.name, team.pk) for team in selectors.teams_for_filing(user).order_by("name")]
    team = _select(teams, placeholder="Choose a team")
    if len(teams) == 1:
        team["initial_option"] = teams[0]
    environments = [_option(env.name, env.pk) for env in Environment.objects.order_by("promotion_order")]
    blocks = [
        _input("title", "Title", {"type": "plain_text_input", "max_length": TITLE_MAX,
                                  **({"initial_value": title} if title else {})},
               hint="One line: what nearly went wrong."),
        _input("summary", "What happened", {"type": "plain_text_input", "multiline": True,
                                            "max_length": SUMMARY_MAX}),
        _input("environment", "Caught in", _select(environments, placeholder="Where it was caught")),
        _input("caught_by", "Caught by", _select([_option(label, value) for value, label in
                                                  Incident.CaughtBy.choices], placeholder="How it was caught")),
        _input("causes", "Causes", {"type": "multi_static_select", "placeholder": _text("Pick any that apply"),
                                    "max_selected_items": LIST_MAX, **cause_choices(selectors.causes_active())},
               optional=True, hint="The system causes that let it get this far."),
        _input("team", "Team", team),
        _input(CONFIDENTIAL, "Confidential", {"type": "checkboxes", "options": [
            _option("File it confidentially", CONFIDENTIAL)]}, optional=True, hint=CONFIDENTIAL_HINT),
    ]  # fmt: skip
    return {
        "type": "modal", "callback_id": CALLBACK_ID, "title": _text("File a near-miss", limit=24),
        "submit": _text("File", limit=24), "close": _text("Cancel", limit=24),
        "private_metadata": private_metadata(response_url=response_url, channel=channel), "blocks": blocks,
    }  # fmt: skip


def result_modal(text: str) -> dict[str, Any]:
    """The modal once filed: what the reply says, and nothing to submit again."""
    return {
        "type": "modal", "callback_id": f"{CALLBACK_ID}_filed", "title": _text("Near-miss filed", limit=24),
        "close": _text("Done", limit=24),
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text[:SLACK_INPUT_MAX]}}],
    }  # fmt: skip


# --- The submission ----------------------------------------------------------------------------------------


def _element(values: dict[str, Any], name: str) -> dict[str, Any]:
    block = values.get(name)
    element = block.get(ACTION_ID) if isinstance(block, dict) else None
    return element if isinstance(element, dict) else {}


def _selected(option: object) -> str:
    value = option.get("value") if isinstance(option, dict) else None
    return value if isinstance(value, str) else ""


def form_data(state: object) -> dict[str, Any]:
    """The submitted values (view.state.values) as form data; whatever is not the shape Slack sends is left out,
    and then reported by the form as missing or invalid."""
    values = state.get("values") if isinstance(state, dict) else None
    values = values if isinstance(values, dict) else {}
    data: dict[str, Any] = {}
    for name in ("title", "summary"):
        value = _element(values, name).get("value")
        if isinstance(value, str):
            data[name] = value
    for name in ("environment", "caught_by", "team"):
        data[name] = _selected(_element(values, name).get("selected_option"))
    for name in ("causes", CONFIDENTIAL):
        options = _element(values, name).get("selected_options")
        data[name] = [_selected(option) for option in options] if isinstance(options, list) else []
    data[CONFIDENTIAL] = CONFIDENTIAL in data[CONFIDENTIAL]
    return data


class SlackNearMissForm(forms.Form):
    """The modal's fields, validated as the web's one-minute form validates them; the service and the model
    check the rest (redaction, the team rule, retired causes)."""

    title = forms.CharField(max_length=TITLE_MAX, validators=[validate_single_line])
    summary = forms.CharField(max_length=SUMMARY_MAX)
    environment = forms.ModelChoiceField(
        queryset=Environment.objects.all(), error_messages={"invalid_choice": "Choose where it was caught."}
    )
    caught_by = forms.ChoiceField(
        choices=Incident.CaughtBy.choices, error_messages={"invalid_choice": "Choose how it was caught."}
    )
    causes = IdsChoiceField(queryset=Cause.objects.none(), required=False)
    team = forms.ModelChoiceField(
        queryset=Team.objects.none(),
        error_messages={"invalid_choice": "Choose one of the teams you may file for."},
    )
    confidential = forms.BooleanField(required=False)

    def __init__(self, data: dict[str, Any], *, user: User) -> None:
        super().__init__(data)
        for name, rows in (("causes", selectors.causes_active()), ("team", selectors.teams_for_filing(user))):
            field = self.fields[name]
            if not isinstance(field, forms.ModelChoiceField):
                raise TypeError(f"{name} chooses no rows")
            field.queryset = rows

    def clean_causes(self) -> list[Cause]:
        causes = list(self.cleaned_data["causes"])
        if len(causes) > LIST_MAX:
            raise forms.ValidationError(f"Pick at most {LIST_MAX} causes.")
        return causes

    def slack_errors(self) -> dict[str, str]:
        """Each field's first error, by block id."""
        return {name: str(errors[0]) for name, errors in self.errors.items() if name in self.fields}


def metadata_read(text: object) -> dict[str, str]:
    """The modal's private_metadata, read as untrusted: a small JSON object of strings, or nothing."""
    if not isinstance(text, str) or len(text) > METADATA_MAX or json_depth(text) > 1:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {
        key: value for key, value in data.items() if key in ("response_url", "channel") and isinstance(value, str)
    }
