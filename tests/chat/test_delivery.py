"""Posting to a channel through the outbox, against the local receiver: the documented shapes, escaping,
limits, and how failures count, disable a webhook and tell its leads."""

from __future__ import annotations

import json
import logging

import pytest

from incidents.models import ChatWebhook, Membership, OutboxMessage
from incidents.outbox import outbox_enqueue, outbox_process
from incidents.services import chat
from tests.factories import IncidentFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

HOSTILE_TITLE = "<!channel> read <https://evil.example|this> & [click](https://evil.example) *now*"


def _queue(webhook: ChatWebhook, post: str = "test", **reference) -> OutboxMessage:
    return outbox_enqueue(handler="chat_post", webhook_id=webhook.pk, post=post, **reference)


def _run(message: OutboxMessage) -> None:
    outbox_process(message_id=message.pk)


def test_a_test_post_reaches_slack_as_block_kit_with_a_text_fallback(slack_hook, receiver):
    _run(_queue(slack_hook))
    (request,) = receiver.requests
    assert request.problems == []
    assert request.headers["Content-Type"].startswith("application/json")
    assert [block["type"] for block in request.body["blocks"]] == ["header", "section", "actions"]
    assert request.body["text"].startswith("Hindsight is connected: Payments")
    slack_hook.refresh_from_db()
    assert slack_hook.last_success_at is not None and slack_hook.consecutive_failures == 0


def test_a_test_post_reaches_teams_as_an_adaptive_card(teams_hook, receiver):
    _run(_queue(teams_hook))
    (request,) = receiver.requests
    assert request.problems == []
    card = request.body["attachments"][0]["content"]
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    assert card["actions"][0] == {"type": "Action.OpenUrl", "title": "Open Hindsight",
                                  "url": "https://hindsight.example.com/"}  # fmt: skip


def test_untrusted_text_pings_nobody_and_links_nothing(team, slack_hook, teams_hook, receiver):
    incident = IncidentFactory(team=team, title=HOSTILE_TITLE, severity="sev1")
    for hook in (slack_hook, teams_hook):
        _run(_queue(hook, "incident_filed", incident_id=incident.pk))
    slack, teams = receiver.requests
    assert slack.problems == teams.problems == []
    slack_text = json.dumps(slack.body)
    assert "<!channel>" not in slack_text and "<https://evil" not in slack_text
    assert (
        "&lt;!channel&gt; read &lt;https://evil.example|this&gt; &amp; [click]"
        in slack.body["blocks"][1]["text"]["text"]
    )
    # Teams: the title is a TextRun (never read as Markdown), as typed; no TextBlock carries it.
    card = teams.body["attachments"][0]["content"]
    runs = [run["text"] for block in card["body"] if block["type"] == "RichTextBlock" for run in block["inlines"]]
    assert HOSTILE_TITLE in runs
    assert not [block for block in card["body"] if block["type"] == "TextBlock"]


def test_long_texts_stay_within_slacks_limits(team, slack_hook, teams_hook, receiver):
    incident = IncidentFactory(team=team, title="T" * 200, summary="word " * 2000, severity="sev1")
    post = chat.chat_post_build(team=team, post="incident_filed", incident_id=incident.pk)
    post.sections = [chat.Section(f"Heading {n}", ["x" * 400] * 40) for n in range(60)]
    body = json.loads(chat.chat_message(kind="slack", post=post))
    assert len(body["blocks"]) <= 50 and len(body["text"]) <= 3000
    assert all(len(block["text"]["text"]) <= 3000 for block in body["blocks"] if block["type"] == "section"
               and "text" in block)  # fmt: skip
    assert len(chat.chat_message(kind="teams", post=post)) <= chat.POST_MAX_BYTES
    for hook in (slack_hook, teams_hook):
        _run(_queue(hook, "incident_filed", incident_id=incident.pk))
    assert [request.problems for request in receiver.requests] == [[], []]


@pytest.mark.parametrize(("status", "answer"), [(404, "no_service"), (410, "channel_is_archived"),
                                                (403, "invalid_token")])  # fmt: skip
def test_a_gone_webhook_is_disabled_at_once_and_each_lead_is_mailed(
    status, answer, team, lead, slack_hook, receiver, mailoutbox
):
    second_lead = MembershipFactory(user=UserFactory(username="lena"), team=team, role=Membership.Role.LEAD).user
    receiver.answer("/slack/T000/B000/secretSLCK", status, answer)
    _run(_queue(slack_hook))  # does not raise: nothing is retried
    slack_hook.refresh_from_db()
    assert not slack_hook.active and answer in slack_hook.disabled_reason
    mails = OutboxMessage.objects.filter(handler="chat_webhook_disabled")
    assert sorted(message.payload["user_id"] for message in mails) == sorted([lead.pk, second_lead.pk])
    for message in mails:
        _run(message)
    assert sorted(mail.to[0] for mail in mailoutbox) == sorted([lead.email, second_lead.email])
    assert "secretSLCK" not in mailoutbox[0].body
    assert f"{receiver.base.removeprefix('http://')}/…SLCK" in mailoutbox[0].body
    assert "/teams/payments/chat/" in mailoutbox[0].body


def test_a_disabled_webhooks_queued_posts_finish_without_posting(slack_hook, receiver):
    slack_hook.disabled_at = slack_hook.created_at
    slack_hook.save()
    message = _queue(slack_hook)
    _run(message)
    message.refresh_from_db()
    assert message.processed_at is not None and receiver.requests == []


def test_server_errors_are_retried_then_disable_after_the_configured_count(
    settings, lead, slack_hook, receiver, caplog
):
    settings.CHAT_WEBHOOK_MAX_FAILURES = 3
    receiver.answer("/slack/T000/B000/secretSLCK", 500, "boom")
    message = _queue(slack_hook)
    with caplog.at_level(logging.WARNING):
        for attempt in (1, 2):
            with pytest.raises(chat.ChatDeliveryFailed):
                _run(message)
            slack_hook.refresh_from_db()
            assert (slack_hook.consecutive_failures, slack_hook.active) == (attempt, True)
        _run(message)  # the third failure in a row disables; the message then finishes
    slack_hook.refresh_from_db()
    assert not slack_hook.active and "3 posts in a row failed" in slack_hook.disabled_reason
    assert "HTTP 500: boom" in slack_hook.last_error
    message.refresh_from_db()
    assert message.processed_at is not None and message.attempts == 3
    assert OutboxMessage.objects.filter(handler="chat_webhook_disabled").count() == 1
    assert "secretSLCK" not in caplog.text and "/…SLCK" in caplog.text
    assert "secretSLCK" not in message.last_error


def test_a_success_resets_the_failure_count(settings, slack_hook, receiver):
    receiver.answer("/slack/T000/B000/secretSLCK", 503)
    with pytest.raises(chat.ChatDeliveryFailed):
        _run(_queue(slack_hook))
    receiver.answer("/slack/T000/B000/secretSLCK", 200, "ok")
    _run(_queue(slack_hook))
    slack_hook.refresh_from_db()
    assert (slack_hook.consecutive_failures, slack_hook.last_error, slack_hook.active) == (0, "", True)


def test_a_timeout_counts_as_a_failure(slack_hook, receiver):
    receiver.answer("/slack/T000/B000/secretSLCK", 200, "ok", delay=0.5)  # the test timeout is 0.2 s
    with pytest.raises(chat.ChatDeliveryFailed, match="no answer within the timeout"):
        _run(_queue(slack_hook))
    slack_hook.refresh_from_db()
    assert slack_hook.consecutive_failures == 1 and slack_hook.active


def test_a_redirect_is_not_followed(slack_hook, receiver):
    receiver.answer("/slack/T000/B000/secretSLCK", 302)
    with pytest.raises(chat.ChatDeliveryFailed, match="HTTP 302"):
        _run(_queue(slack_hook))
    assert [request.path for request in receiver.requests] == ["/slack/T000/B000/secretSLCK"]


def test_rate_limiting_is_retried_but_never_disables(settings, slack_hook, receiver):
    settings.CHAT_WEBHOOK_MAX_FAILURES = 1
    receiver.answer("/slack/T000/B000/secretSLCK", 429, "rate_limited")
    with pytest.raises(chat.ChatDeliveryFailed):
        _run(_queue(slack_hook))
    slack_hook.refresh_from_db()
    assert slack_hook.active


def test_a_lead_who_enabled_it_again_is_not_mailed(lead, slack_hook, receiver, mailoutbox):
    receiver.answer("/slack/T000/B000/secretSLCK", 404, "no_service")
    _run(_queue(slack_hook))
    ChatWebhook.objects.filter(pk=slack_hook.pk).update(disabled_at=None)
    _run(OutboxMessage.objects.get(handler="chat_webhook_disabled"))
    assert mailoutbox == []
