"""/nearmiss: requests are taken only when signed, fresh and new; a matched member gets the near-miss modal."""

from __future__ import annotations

import logging
import time

import pytest

from incidents.limits import TITLE_MAX
from incidents.models import Cause, Environment, HookDelivery, Incident
from incidents.slack.modal import OPTIONS_MAX, SUMMARY_MAX, cause_choices
from tests.factories import MembershipFactory, TeamFactory, UserFactory
from tests.slack.conftest import SLACK_USER, command_body, post_signed, signed

pytestmark = pytest.mark.django_db
COMMANDS = "/slack/commands/"


@pytest.fixture
def rita(slack, reporter):
    """The reporter, known to Slack under her e-mail (Slack may spell it in another case)."""
    slack.emails[SLACK_USER] = reporter.email.upper()
    return reporter


def _opened(slack) -> dict:
    (call,) = slack.called("views.open")
    return call["view"]


def _blocks(view: dict) -> dict[str, dict]:
    return {block["block_id"]: block for block in view["blocks"]}


def test_the_app_is_off_without_its_settings(client, settings):
    settings.SLACK_SIGNING_SECRET = settings.SLACK_BOT_TOKEN = None
    for path in (COMMANDS, "/slack/interactions/"):
        assert client.post(path, "a=b", content_type="application/x-www-form-urlencoded").status_code == 404
        assert client.get(path).status_code == 404


def test_only_posts_are_taken(client, slack):
    assert client.get(COMMANDS).status_code == 405


def test_a_signed_command_opens_the_modal_with_the_bot_token(client, slack, rita, caplog):
    with caplog.at_level(logging.DEBUG):
        response = post_signed(client, COMMANDS, command_body(slack))
    assert "xoxb-fake-token-for-tests" not in caplog.text  # slack-sdk logs its calls with the token redacted
    assert response.status_code == 200
    assert response.content == b""
    (lookup,) = slack.called("users.info")
    assert lookup["user"] == SLACK_USER
    assert lookup["auth"] == "Bearer xoxb-fake-token-for-tests"
    view = _opened(slack)
    assert view["callback_id"] == "hindsight_near_miss"
    assert slack.called("views.open")[0]["trigger_id"] == "13345224609.738474920.8088930838d88f008e0"


def test_the_modal_has_the_one_minute_forms_fields_options_and_limits(client, slack, rita, other_team):
    Cause.objects.filter(slug="manual-change").update(active=False)
    post_signed(client, COMMANDS, command_body(slack, text="Nearly dropped the orders table"))
    view = _opened(slack)
    blocks = _blocks(view)
    assert list(blocks) == ["title", "summary", "environment", "caught_by", "causes", "team", "confidential"]
    title, summary = blocks["title"]["element"], blocks["summary"]["element"]
    assert (title["max_length"], title["initial_value"]) == (TITLE_MAX, "Nearly dropped the orders table")
    assert summary["max_length"] == SUMMARY_MAX == 3000 and summary["multiline"] is True
    environments = [option["value"] for option in blocks["environment"]["element"]["options"]]
    assert environments == [
        str(pk) for pk in Environment.objects.order_by("promotion_order").values_list("pk", flat=True)
    ]
    caught_by = {option["value"] for option in blocks["caught_by"]["element"]["options"]}
    assert caught_by == set(Incident.CaughtBy.values)
    causes = {option["value"] for option in blocks["causes"]["element"]["options"]}
    assert causes == {str(pk) for pk in Cause.objects.filter(active=True).values_list("pk", flat=True)}
    assert str(Cause.objects.get(slug="manual-change").pk) not in causes
    assert blocks["causes"]["optional"] is True
    teams = blocks["team"]["element"]["options"]
    assert [option["text"]["text"] for option in teams] == ["Payments"]  # not the other team
    assert blocks["team"]["element"]["initial_option"] == teams[0]
    assert blocks["confidential"]["element"]["type"] == "checkboxes"
    assert '"channel": "C2147483705"' in view["private_metadata"]
    assert f"{slack.url}/hooks/commands/1234/5678" in view["private_metadata"]


def test_more_causes_than_slack_lists_are_grouped_by_category():
    causes = [
        Cause(pk=n, name=f"Cause {n}", category=Cause.Category.CHECKS if n % 2 else Cause.Category.DATA)
        for n in range(1, 181)
    ]
    choices = cause_choices(causes)
    assert "options" not in choices
    groups = choices["option_groups"]
    assert [len(group["options"]) for group in groups] == [90, 90]
    assert all(len(group["options"]) <= OPTIONS_MAX for group in groups)
    assert {group["label"]["text"] for group in groups} == {"Checks and testing", "Data and secrets"}


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_X_SLACK_SIGNATURE": "v0=" + "0" * 64},  # wrong
        {"HTTP_X_SLACK_SIGNATURE": ""},  # missing
        {"HTTP_X_SLACK_SIGNATURE": "v1=abc"},  # malformed
        {"HTTP_X_SLACK_REQUEST_TIMESTAMP": "soon"},  # not an integer
        {"HTTP_X_SLACK_REQUEST_TIMESTAMP": "1e9"},
    ],
    ids=["wrong", "missing", "malformed", "word-timestamp", "float-timestamp"],
)
def test_badly_signed_commands_are_refused(client, slack, rita, headers):
    response = post_signed(client, COMMANDS, command_body(slack), **headers)
    assert response.status_code == 401
    assert slack.calls == []


def test_a_stale_timestamp_is_refused_even_when_signed(client, slack, rita):
    body = command_body(slack)
    headers = signed(body, timestamp=int(time.time()) - 301)
    response = client.post(COMMANDS, body, content_type="application/x-www-form-urlencoded", **headers)
    assert response.status_code == 401
    assert b"five minutes" in response.content


def test_a_signature_by_another_secret_is_refused(client, slack, rita):
    body = command_body(slack)
    headers = signed(body, secret="another-fake-secret")
    assert (
        client.post(COMMANDS, body, content_type="application/x-www-form-urlencoded", **headers).status_code == 401
    )


def test_an_exact_replay_inside_the_window_is_refused(client, slack, rita):
    body = command_body(slack)
    headers = signed(body)
    first = client.post(COMMANDS, body, content_type="application/x-www-form-urlencoded", **headers)
    again = client.post(COMMANDS, body, content_type="application/x-www-form-urlencoded", **headers)
    assert (first.status_code, again.status_code) == (200, 409)
    assert len(slack.called("views.open")) == 1
    assert HookDelivery.objects.get(source="slack", event="commands").repeats == 1


def test_an_oversized_body_is_refused_before_it_is_read(client, slack, settings):
    settings.SLACK_MAX_BODY_BYTES = 16_384
    response = post_signed(client, COMMANDS, command_body(slack, text="x" * 20_000))
    assert response.status_code == 413
    assert slack.calls == []


def test_an_unknown_slack_user_is_told_how_to_link(client, slack, reporter):
    slack.emails[SLACK_USER] = "nobody@example.com"
    response = post_signed(client, COMMANDS, command_body(slack))
    assert response.status_code == 200
    reply = response.json()
    assert reply["response_type"] == "ephemeral"
    assert "No Hindsight account has the e-mail nobody@example.com" in reply["text"]
    assert "must be the same as your Slack e-mail" in reply["text"]
    assert slack.called("views.open") == []


def test_single_sign_on_is_offered_as_a_way_to_link_when_configured(client, slack, settings):
    settings.OIDC_ISSUER = "https://login.example.com"
    slack.emails[SLACK_USER] = "nobody@example.com"
    assert (
        "sign in to Hindsight once with single sign-on"
        in post_signed(client, COMMANDS, command_body(slack)).json()["text"]
    )


def test_an_inactive_account_with_the_email_is_not_matched(client, slack, team):
    user = UserFactory(username="gone", email="gone@example.com", is_active=False)
    MembershipFactory(user=user, team=team)
    slack.emails[SLACK_USER] = "gone@example.com"
    reply = post_signed(client, COMMANDS, command_body(slack)).json()
    assert "No Hindsight account has the e-mail gone@example.com" in reply["text"]
    assert slack.called("views.open") == []


def test_two_accounts_with_the_email_are_not_guessed_between(client, slack, reporter):
    UserFactory(username="rita2", email=reporter.email.upper())
    slack.emails[SLACK_USER] = reporter.email
    reply = post_signed(client, COMMANDS, command_body(slack)).json()
    assert "More than one Hindsight account" in reply["text"]
    assert slack.called("views.open") == []


def test_a_member_of_no_team_is_told_so(client, slack):
    UserFactory(username="solo", email="solo@example.com")
    slack.emails[SLACK_USER] = "solo@example.com"
    reply = post_signed(client, COMMANDS, command_body(slack)).json()
    assert "not a member of any team" in reply["text"]
    assert slack.called("views.open") == []


def test_slack_unreachable_is_an_ephemeral_reply_not_an_error(client, slack, rita, settings):
    settings.SLACK_API_URL = "http://127.0.0.1:9/api/"  # nothing listens on the discard port
    response = post_signed(client, COMMANDS, command_body(slack))
    assert response.status_code == 200
    assert "could not reach Slack" in response.json()["text"]


def test_a_refused_modal_is_an_ephemeral_reply(client, slack, rita):
    slack.views_open_error = "expired_trigger_id"
    assert "try /nearmiss again" in post_signed(client, COMMANDS, command_body(slack)).json()["text"]


def test_another_workspace_is_refused(client, slack, rita, settings):
    settings.SLACK_TEAM_ID = "T9999"
    reply = post_signed(client, COMMANDS, command_body(slack)).json()
    assert "not connected" in reply["text"]
    assert slack.calls == []


def test_a_command_without_slacks_fields_is_a_400(client, slack):
    assert post_signed(client, COMMANDS, "command=%2Fnearmiss&user_id=U1").status_code == 400


def test_a_member_of_several_teams_chooses_among_them(client, slack, rita):
    MembershipFactory(user=rita, team=TeamFactory(name="Search", slug="search"))
    post_signed(client, COMMANDS, command_body(slack))
    team = _blocks(_opened(slack))["team"]["element"]
    assert [option["text"]["text"] for option in team["options"]] == ["Payments", "Search"]
    assert "initial_option" not in team
