"""What is posted to a team's channels, and when: new SEV1/SEV2 incidents, published postmortems, the weekly
digest after the weekly run, and the daily batch of action items that became overdue. A confidential near-miss
changes nothing in any of them."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from config.celery import app
from incidents import tasks
from incidents.models import ActionItem, ChatWebhook, Incident, OutboxMessage, TrendReport
from incidents.outbox import outbox_process
from incidents.policies import viewer_for_user
from incidents.services import chat, incident_create, incident_update, near_miss_report
from incidents.services.reports import report_generate
from incidents.weeks import Week
from tests.factories import ActionItemFactory, IncidentFactory, NearMissFactory

pytestmark = pytest.mark.django_db


def chat_posts() -> list[dict]:
    return [message.payload for message in OutboxMessage.objects.filter(handler="chat_post").order_by("pk")]


def _run_chat_posts() -> None:
    for message in OutboxMessage.objects.filter(handler="chat_post", processed_at__isnull=True).order_by("pk"):
        outbox_process(message_id=message.pk)


def _file(lead, team, **fields) -> Incident:
    return incident_create(actor=viewer_for_user(lead), team=team, kind="incident", reporter=lead, **fields).obj


# --- New incidents and published postmortems --------------------------------------------------------------


def test_a_new_sev1_incident_is_announced_to_each_active_channel(lead, team, slack_hook, teams_hook, receiver):
    ChatWebhook.objects.create(team=team.__class__.objects.create(name="Growth", slug="growth"), kind="slack",
                               url=receiver.url("/slack/other"))  # another team's channel hears nothing  # fmt: skip
    incident = _file(lead, team, title="Checkout down", severity="sev1")
    assert chat_posts() == [
        {"webhook_id": slack_hook.pk, "post": "incident_filed", "incident_id": incident.pk},
        {"webhook_id": teams_hook.pk, "post": "incident_filed", "incident_id": incident.pk},
    ]
    _run_chat_posts()
    slack, teams = receiver.requests
    assert slack.problems == teams.problems == []
    assert slack.body["blocks"][0]["text"]["text"] == f"SEV1 incident filed: {incident.reference}"
    assert slack.body["blocks"][-1]["elements"][0]["url"] == (
        f"https://hindsight.example.com/incidents/{incident.reference}/"
    )


def test_lower_severities_and_disabled_channels_are_not_announced(lead, team, slack_hook, teams_hook):
    _file(lead, team, title="Slow search", severity="sev3")
    ChatWebhook.objects.filter(pk=teams_hook.pk).update(disabled_at=timezone.now())
    _file(lead, team, title="Checkout down", severity="sev2")
    assert [(post["webhook_id"], post["post"]) for post in chat_posts()] == [(slack_hook.pk, "incident_filed")]


def test_publishing_a_postmortem_is_announced_once(lead, team, slack_hook):
    incident = IncidentFactory(team=team, status=Incident.Status.IN_REVIEW, severity="sev3")
    incident_update(actor=viewer_for_user(lead), incident=incident, expected_version=incident.version,
                    changes={"status": Incident.Status.PUBLISHED})  # fmt: skip
    incident.refresh_from_db()
    incident_update(actor=viewer_for_user(lead), incident=incident, expected_version=incident.version,
                    changes={"summary": "Amended."})  # an amendment is not a second publication  # fmt: skip
    assert chat_posts() == [
        {"webhook_id": slack_hook.pk, "post": "postmortem_published", "incident_id": incident.pk}
    ]


def test_a_confidential_near_miss_enqueues_no_chat_post(reporter, team, prod, slack_hook, teams_hook):
    near_miss_report(reporter=reporter, team=team, title="Key nearly leaked", summary="Scanner caught it.",
                     environment=prod, caught_by=Incident.CaughtBy.AUTOMATED_CHECK, confidential=True,
                     severity="sev1")  # fmt: skip
    assert chat_posts() == []


def test_an_item_made_confidential_before_its_post_is_sent_is_not_posted(team, slack_hook, receiver):
    near_miss = NearMissFactory(team=team)
    item = ActionItemFactory(incident=near_miss, due_date=timezone.localdate() - dt.timedelta(days=1))
    assert chat.chat_overdue_announce() == 1
    Incident.objects.filter(pk=near_miss.pk).update(confidential=True)
    _run_chat_posts()
    assert receiver.requests == []
    assert OutboxMessage.objects.get(handler="chat_post").processed_at is not None
    assert item.pk in chat_posts()[0]["action_item_ids"]


# --- The weekly digest -------------------------------------------------------------------------------------


@pytest.fixture
def eager_celery():
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def _in_week(week: Week) -> dt.datetime:
    return week.start + dt.timedelta(days=1, hours=10)


def test_the_weekly_run_queues_each_channel_its_teams_digest_once(team, lead, slack_hook, teams_hook, receiver,
                                                                   eager_celery):  # fmt: skip
    week = Week.last()
    IncidentFactory(team=team, started_at=_in_week(week), severity="sev1")
    tasks.reports_weekly_task(week.monday.isoformat())
    digests = [post for post in chat_posts() if post["post"] == "digest"]
    assert digests == [
        {"webhook_id": slack_hook.pk, "post": "digest", "week_start": week.monday.isoformat()},
        {"webhook_id": teams_hook.pk, "post": "digest", "week_start": week.monday.isoformat()},
    ]
    tasks.reports_weekly_task(week.monday.isoformat())  # a redelivered beat message queues nothing more
    assert len([post for post in chat_posts() if post["post"] == "digest"]) == 2
    _run_chat_posts()
    slack, teams = receiver.requests
    assert slack.problems == teams.problems == []
    blocks = slack.body["blocks"]
    assert blocks[0]["text"]["text"] == f"Weekly digest: Payments, {week.label}"
    assert "*What changed*" in blocks[1]["text"]["text"] and "*Needs attention*" in blocks[2]["text"]["text"]
    assert "1 SEV1 incident this week." in blocks[2]["text"]["text"]
    assert {"type": "mrkdwn", "text": "*Incidents*\n1 (+1 on the week before)"} in blocks[3]["fields"]
    assert blocks[-1]["elements"][0]["url"] == f"https://hindsight.example.com/reports/{week.label}/team:payments/"
    runs = [run["text"] for block in teams.body["attachments"][0]["content"]["body"] for run in block["inlines"]]
    assert "Needs attention" in runs and "• 1 SEV1 incident this week." in runs


def test_a_confidential_near_miss_changes_nothing_in_the_digest(team, reporter, prod, slack_hook, teams_hook):
    week = Week.last()
    IncidentFactory(team=team, started_at=_in_week(week), severity="sev2")
    ActionItemFactory(incident=IncidentFactory(team=team, started_at=_in_week(week)),
                      due_date=week.monday)  # fmt: skip
    report_generate(week=week, team=team)

    def rendered() -> tuple[bytes, bytes]:
        post = chat.chat_post_build(team=team, post="digest", week_start=week.monday.isoformat())
        return chat.chat_message(kind="slack", post=post), chat.chat_message(kind="teams", post=post)

    before, queued_before = rendered(), chat_posts()
    filing = near_miss_report(
        reporter=reporter, team=team, title="Key nearly leaked", summary="Scanner caught it.", environment=prod,
        caught_by=Incident.CaughtBy.LUCK, confidential=True, severity="sev1", started_at=_in_week(week),
    )  # fmt: skip
    ActionItemFactory(incident=filing.incident, due_date=week.monday)
    report_generate(week=week, team=team)
    assert rendered() == before
    assert chat_posts() == queued_before
    # The check can fail: the leads' report of the same week does count the near-miss.
    counts = TrendReport.objects.get(team=team, week_start=week.monday, audience="confidential").data["counts"]
    assert counts["near_misses"][-1] == 1


# --- Overdue action items, daily and batched ----------------------------------------------------------------


def test_overdue_items_are_announced_once_per_team_in_one_post(team, other_team, prod, reporter, slack_hook,
                                                                receiver):  # fmt: skip
    today = timezone.localdate()
    incident = IncidentFactory(team=team)
    late = [ActionItemFactory(incident=incident, title=f"Late {n}", due_date=today - dt.timedelta(days=n))
            for n in (1, 2)]  # fmt: skip
    due_today = ActionItemFactory(incident=incident, title="Not yet due", due_date=today)
    done = ActionItemFactory(incident=incident, title="Done", due_date=today - dt.timedelta(days=3))
    ActionItem.objects.filter(pk=done.pk).update(status="done", completed_at=timezone.now())
    secret = near_miss_report(reporter=reporter, team=team, title="Key nearly leaked", summary="x", environment=prod,
                              caught_by=Incident.CaughtBy.AUTOMATED_CHECK, confidential=True).incident  # fmt: skip
    ActionItemFactory(incident=secret, title="Rotate the key", due_date=today - dt.timedelta(days=1))
    ActionItemFactory(incident=IncidentFactory(team=other_team), due_date=today - dt.timedelta(days=1))

    assert chat.chat_overdue_announce(today=today) == 1  # one post: payments' only channel; platform has none
    assert chat.chat_overdue_announce(today=today) == 0  # idempotent: each item is announced once
    (post,) = chat_posts()
    assert sorted(post["action_item_ids"]) == sorted(item.pk for item in late)
    _run_chat_posts()
    (request,) = receiver.requests
    text = request.body["blocks"][1]["text"]["text"]
    assert request.problems == [] and "Late 1" in text and "Late 2" in text
    assert "Rotate the key" not in str(request.body) and "Not yet due" not in str(request.body)
    assert request.body["blocks"][0]["text"]["text"] == "2 action items became overdue: Payments"

    tomorrow_late = ActionItemFactory(incident=incident, title="Late tomorrow", due_date=today)
    assert chat.chat_overdue_announce(today=today + dt.timedelta(days=1)) == 1
    assert sorted(chat_posts()[-1]["action_item_ids"]) == sorted([due_today.pk, tomorrow_late.pk])


def test_the_overdue_task_runs_daily_from_the_beat_schedule(team, slack_hook):
    ActionItemFactory(incident=IncidentFactory(team=team), due_date=timezone.localdate() - dt.timedelta(days=1))
    entry = django_settings.CELERY_BEAT_SCHEDULE["chat-overdue-action-items"]
    assert entry["task"] == tasks.chat_overdue_announce_task.name and entry["task"] in app.tasks
    assert tasks.chat_overdue_announce_task() == 1
    assert tasks.chat_overdue_announce_task() == 0
