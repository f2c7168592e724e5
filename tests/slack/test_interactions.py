"""A submitted near-miss modal files through the web form's service, once, and replies with its number or, for a
confidential report, a receipt; hostile submissions get a Slack error or a 4xx, never a 500."""

from __future__ import annotations

import json
import logging
from urllib.parse import urlencode

import pytest
from django.core import serializers

from incidents.models import (
    AuditEntry,
    Cause,
    ConfidentialReporter,
    HookDelivery,
    Incident,
    Membership,
    OutboxMessage,
)
from incidents.slack.modal import private_metadata
from tests.slack.conftest import SLACK_USER, interaction_body, post_signed, submission

pytestmark = pytest.mark.django_db
INTERACTIONS = "/slack/interactions/"


def text(value: str) -> dict:
    return {"type": "plain_text_input", "value": value}


def select(value: object) -> dict:
    return {
        "type": "static_select",
        "selected_option": {"text": {"type": "plain_text", "text": "x"}, "value": str(value)},
    }


def options(kind: str, values: list) -> dict:
    return {
        "type": kind,
        "selected_options": [{"text": {"type": "plain_text", "text": "x"}, "value": str(v)} for v in values],
    }


@pytest.fixture
def rita(slack, reporter):
    slack.emails[SLACK_USER] = reporter.email
    return reporter


@pytest.fixture
def values(team, staging):
    cause = Cause.objects.filter(active=True).order_by("pk").first()
    return {
        "title": text("Migration nearly dropped the orders table"),
        "summary": text("Review caught a DROP in the migration."),
        "environment": select(staging.pk),
        "caught_by": select(Incident.CaughtBy.CODE_REVIEW),
        "causes": options("multi_static_select", [cause.pk]),
        "team": select(team.pk),
        "confidential": options("checkboxes", []),
    }


def submit(client, slack, values: dict, **kwargs):
    metadata = private_metadata(response_url=f"{slack.url}/hooks/commands/1234/5678", channel="C2147483705")
    body = interaction_body(submission(values, private_metadata=metadata, **kwargs))
    return post_signed(client, INTERACTIONS, body)


def test_a_submission_files_the_near_miss_and_replies_with_its_number(client, slack, rita, values, team):
    response = submit(client, slack, values)
    assert response.status_code == 200
    incident = Incident.objects.get()
    assert (incident.kind, incident.team, incident.reporter, incident.status) == (
        Incident.Kind.NEAR_MISS, team, rita, Incident.Status.PUBLISHED,
    )  # fmt: skip
    assert incident.caught_by == Incident.CaughtBy.CODE_REVIEW
    assert incident.causes.count() == 1
    answer = response.json()
    assert answer["response_action"] == "update"
    shown = answer["view"]["blocks"][0]["text"]["text"]
    assert incident.reference in shown
    assert f"https://hindsight.example/incidents/{incident.reference}/" in shown
    assert "submit" not in answer["view"]
    (reply,) = slack.replies
    assert reply["response_type"] == "ephemeral"
    assert reply["text"] == shown


def test_a_confidential_submission_replies_with_a_receipt_and_keeps_no_code(client, slack, rita, values, caplog):
    values["confidential"] = options("checkboxes", ["confidential"])
    with caplog.at_level(logging.DEBUG):
        response = submit(client, slack, values)
    incident = Incident.objects.get()
    assert incident.confidential and incident.reporter is None
    shown = response.json()["view"]["blocks"][0]["text"]["text"]
    code = shown.split("`")[1]
    without_code = shown.replace(code, "")
    assert "NM-" not in without_code and str(incident.number) not in without_code  # never its number
    assert ConfidentialReporter.objects.get(incident=incident).user == rita
    assert f"https://hindsight.example/receipts/{code}/" in shown
    assert slack.replies[0]["text"] == shown
    stored = serializers.serialize(
        "json", [*HookDelivery.objects.all(), *OutboxMessage.objects.all(), *AuditEntry.objects.all(),
                 *ConfidentialReporter.objects.all()],
    )  # fmt: skip
    assert code not in stored
    assert code not in caplog.text
    assert client.get(f"/receipts/{code}/").status_code == 200


def test_the_receipt_code_is_not_logged_when_the_reply_fails(client, slack, rita, values, caplog):
    slack.reply_status = 500
    values["confidential"] = options("checkboxes", ["confidential"])
    with caplog.at_level(logging.DEBUG):
        response = submit(client, slack, values)
    code = response.json()["view"]["blocks"][0]["text"]["text"].split("`")[1]
    assert "answered 500" in caplog.text
    assert code not in caplog.text


def test_a_reply_goes_only_to_an_allowed_host(client, slack, rita, values, settings, caplog):
    settings.SLACK_RESPONSE_URL_HOSTS = ["hooks.slack.com"]
    response = submit(client, slack, values)
    assert response.json()["response_action"] == "update"  # filed all the same
    assert Incident.objects.count() == 1
    assert slack.replies == []
    assert "not on SLACK_RESPONSE_URL_HOSTS" in caplog.text


def test_a_resent_submission_does_not_file_twice(client, slack, rita, values):
    first = submit(client, slack, values)
    again = post_signed(
        client, INTERACTIONS, interaction_body(submission(values)), HTTP_X_SLACK_RETRY_NUM="1",
        HTTP_X_SLACK_RETRY_REASON="http_timeout",
    )  # fmt: skip
    assert first.status_code == again.status_code == 200
    assert Incident.objects.count() == 1
    reference = Incident.objects.get().reference
    assert f"filed already as <https://hindsight.example/incidents/{reference}/|{reference}>" in json.dumps(
        again.json()
    )
    assert len(slack.replies) == 1


def test_another_modal_files_its_own_near_miss(client, slack, rita, values):
    submit(client, slack, values)
    submit(client, slack, values, view_id="V0999ZZZ")
    assert Incident.objects.count() == 2


def _errors(response) -> dict:
    assert response.status_code == 200
    answer = response.json()
    assert answer["response_action"] == "errors"
    assert Incident.objects.count() == 0
    return answer["errors"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", text("")),
        ("title", text("Two\nlines")),
        ("title", text("Looks \u202eedosrever")),
        ("title", text("x" * 201)),
        ("summary", text("x" * 3001)),
        ("environment", select(999_999)),
        ("environment", select("prod")),
        ("caught_by", select("telepathy")),
        ("causes", options("multi_static_select", [999_999])),
        ("causes", options("multi_static_select", ["1; DROP"])),
        ("team", select("abc")),
        ("team", select(10**30)),
        ("title", {"type": "plain_text_input", "value": ["not", "text"]}),
        ("environment", {"type": "static_select", "selected_option": "3"}),
    ],
    ids=[
        "empty",
        "newline",
        "bidi",
        "too-long",
        "summary-too-long",
        "unknown-env",
        "env-slug",
        "unknown-caught-by",
        "unknown-cause",
        "cause-not-an-id",
        "team-not-an-id",
        "team-huge",
        "title-a-list",
        "option-a-string",
    ],
)
def test_bad_values_are_errors_on_their_field(client, slack, rita, values, field, value):
    values[field] = value
    errors = _errors(submit(client, slack, values))
    assert list(errors) == [field]
    assert errors[field]


def test_a_retired_cause_is_refused(client, slack, rita, values):
    retired = Cause.objects.filter(active=True).order_by("-pk").first()
    Cause.objects.filter(pk=retired.pk).update(active=False)
    values["causes"] = options("multi_static_select", [retired.pk])
    assert "causes" in _errors(submit(client, slack, values))


def test_another_teams_id_is_refused(client, slack, rita, values, other_team):
    values["team"] = select(other_team.pk)
    assert list(_errors(submit(client, slack, values))) == ["team"]


def test_a_member_who_left_the_team_since_the_modal_opened_cannot_file(client, slack, rita, values):
    Membership.objects.filter(user=rita).delete()
    assert list(_errors(submit(client, slack, values))) == ["team"]


def test_a_submission_by_an_unmatched_user_files_nothing(client, slack, rita, values):
    rita.is_active = False
    rita.save()
    errors = _errors(submit(client, slack, values))
    assert "No Hindsight account" in errors["team"]


def test_redaction_applies_to_what_slack_files(client, slack, rita, values):
    values["summary"] = text("Call Bob at bob.smith@example.org about the migration.")
    submit(client, slack, values)
    assert "bob.smith@example.org" not in Incident.objects.get().summary


def test_other_interactions_are_acknowledged_and_ignored(client, slack, rita, values):
    closed = submission(values) | {"type": "view_closed"}
    other = submission(values)
    other["view"]["callback_id"] = "someone_elses_modal"
    for data in (closed, other, {"type": "block_actions", "actions": []}):
        response = post_signed(client, INTERACTIONS, interaction_body(data))
        assert (response.status_code, response.content) == (200, b"")
    assert Incident.objects.count() == 0


@pytest.mark.parametrize(
    "body",
    [
        "nothing=here",
        urlencode({"payload": "{not json"}),
        urlencode({"payload": "[1, 2]"}),
        urlencode({"payload": "[" * 5000 + "]" * 5000}),
        urlencode(
            {"payload": json.dumps({"type": "view_submission", "view": {"callback_id": "hindsight_near_miss"}})}
        ),
        b"payload=%ff%fe".decode(),
    ],
    ids=["no-payload", "malformed", "not-an-object", "deeply-nested", "no-user-or-view", "not-utf8"],
)
def test_malformed_payloads_are_a_400(client, slack, body):
    response = post_signed(client, INTERACTIONS, body)
    assert response.status_code == 400
    assert Incident.objects.count() == 0


def test_a_submission_from_another_workspace_is_refused(client, slack, rita, values, settings):
    settings.SLACK_TEAM_ID = "T9999"
    assert submit(client, slack, values).status_code == 403
    assert Incident.objects.count() == 0


def test_an_unsigned_submission_files_nothing(client, slack, rita, values):
    body = interaction_body(submission(values))
    response = client.post(INTERACTIONS, body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 401
    assert Incident.objects.count() == 0


def test_a_body_with_more_fields_than_slack_sends_is_a_400(client, slack):
    body = urlencode({f"field{n}": "x" for n in range(60)})
    assert post_signed(client, INTERACTIONS, body).status_code == 400
