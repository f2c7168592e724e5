"""Each event, from where it happens (the web forms, the API, the daily job, report generation) to a verified POST
at the local subscriber, with the payload docs/outbound-webhooks.md documents."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
import time_machine
from django.utils import timezone

from incidents.models import ActionItem, Environment, Incident, WebhookDelivery
from incidents.policies import viewer_for_user
from incidents.services import webhooks as webhook_services
from incidents.tasks import chat_overdue_announce_task, report_generate_task
from incidents.weeks import Week
from tests.factories import ActionItemFactory, IncidentFactory
from tests.webhooks.conftest import deliver_all

pytestmark = pytest.mark.django_db

DOCS = Path(__file__).resolve().parents[2] / "docs" / "outbound-webhooks.md"
SITE = "https://hindsight.example.com"


def _incident_form(team, **extra) -> dict:
    return {"title": "Card payments failed", "severity": "sev2", "environment": Environment.objects.get(slug="prod").pk,
            "caught_by": "monitoring_alert", "started_at": "2026-01-05T10:00", "summary": "Declines.",
            "body": "## Summary", "team": team.pk, **extra}  # fmt: skip


def _near_miss_form(team, **extra) -> dict:
    return {"title": "Token nearly pushed", "summary": "A hook stopped it.", "caught_by": "automated_check",
            "environment": Environment.objects.get(slug="staging").pk, "team": team.pk, **extra}  # fmt: skip


@pytest.fixture
def hook(subscribe, lead, team):
    return subscribe(lead, team, "/payments")


def test_filing_an_incident_on_the_web_sends_incident_created(client, reporter, team, hook, receiver):
    client.force_login(reporter)
    assert client.post("/incidents/new/", _incident_form(team)).status_code == 302
    deliver_all()
    (payload,) = receiver.payloads("/payments")
    incident = Incident.objects.get()
    assert payload["type"] == "incident.created"
    assert payload["timestamp"].endswith("Z")
    assert payload["data"] == {
        "reference": "INC-1", "kind": "incident", "title": "Card payments failed",
        "team": {"slug": "payments", "name": "Payments"}, "severity": "sev2", "status": incident.status,
        "environment": "prod", "confidential": False, "started_at": "2026-01-05T10:00:00Z",
        "url": f"{SITE}/incidents/INC-1/",
    }  # fmt: skip
    assert WebhookDelivery.objects.get().status == WebhookDelivery.Status.DELIVERED


def test_a_near_miss_filed_through_the_form_is_created_and_published(client, reporter, team, hook, receiver):
    client.force_login(reporter)
    assert client.post("/near-misses/new/", _near_miss_form(team)).status_code == 302
    deliver_all()
    assert receiver.types("/payments") == ["incident.created", "postmortem.published"]
    assert {payload["data"]["reference"] for payload in receiver.payloads("/payments")} == {"NM-1"}


def test_an_item_waiting_in_triage_sends_nothing_until_it_is_promoted(client, writer, lead, team, hook, receiver):
    response = writer.post("/api/v1/incidents/", {"kind": "incident", "title": "Disk full", "status": "triage"})
    assert response.status_code == 201, response.content
    deliver_all()
    assert receiver.requests == []
    incident = Incident.objects.get()
    client.force_login(lead)
    promoted = client.post(f"/incidents/{incident.reference}/triage/",
                           {"action": "incident", "expected_version": incident.version})  # fmt: skip
    assert promoted.status_code == 302
    deliver_all()
    assert receiver.types("/payments") == ["incident.created"]


def test_publishing_a_postmortem_sends_postmortem_published(client, lead, team, hook, receiver):
    incident = IncidentFactory(team=team, status=Incident.Status.IN_REVIEW)
    client.force_login(lead)
    response = client.post(f"/incidents/{incident.reference}/status/",
                           {"status": "published", "expected_version": incident.version, "anyway": "on"})  # fmt: skip
    assert response.status_code == 302
    deliver_all()
    (payload,) = receiver.payloads("/payments")
    assert (payload["type"], payload["data"]["reference"], payload["data"]["status"]) == (
        "postmortem.published", incident.reference, "published",
    )  # fmt: skip


def test_action_items_created_and_closed_on_the_web(client, reporter, team, other_team, hook, subscribe, admin_user,
                                                    receiver):  # fmt: skip
    theirs = subscribe(admin_user, other_team, "/platform")
    incident = IncidentFactory(team=team)
    client.force_login(reporter)
    added = client.post(f"/incidents/{incident.reference}/action-items/", {
        "action-title": "Add a canary check", "action-owner": reporter.pk, "action-team": other_team.pk,
        "action-due_date": "2026-02-01", "action-ticket_url": "https://jira.example/browse/PAY-1",
    })  # fmt: skip
    assert added.status_code == 302
    item = ActionItem.objects.get()
    deliver_all()
    assert client.post(f"/action-items/{item.pk}/complete/", {"status": "done"}).status_code == 302
    deliver_all()
    created, closed = receiver.payloads("/payments")
    assert (created["type"], closed["type"]) == ("action_item.created", "action_item.closed")
    assert created["data"] == {
        "id": item.pk, "title": "Add a canary check", "status": "open", "due_date": "2026-02-01",
        "completed_at": None, "owner": {"username": "rita", "name": ""},
        "team": {"slug": "platform", "name": "Platform"}, "ticket_url": "https://jira.example/browse/PAY-1",
        "incident": {"reference": incident.reference, "title": incident.title,
                     "team": {"slug": "payments", "name": "Payments"}, "confidential": False,
                     "url": f"{SITE}/incidents/{incident.reference}/"},
    }  # fmt: skip
    assert closed["data"]["status"] == "done" and closed["data"]["completed_at"].endswith("Z")
    # The team the item is assigned to follows it too.
    assert theirs.deliveries.count() == 2 and receiver.types("/platform") == ["action_item.created",
                                                                             "action_item.closed"]  # fmt: skip


@time_machine.travel(dt.datetime(2026, 3, 18, 7, 0, tzinfo=dt.UTC), tick=False)
def test_the_daily_job_sends_each_newly_overdue_item_once(team, hook, receiver, settings):
    settings.TIME_ZONE = "UTC"
    today = timezone.localdate()
    incident = IncidentFactory(team=team)
    yesterday = ActionItemFactory(incident=incident, title="Due yesterday", due_date=today - dt.timedelta(days=1))
    ActionItemFactory(incident=incident, title="Long overdue", due_date=today - dt.timedelta(days=20))
    ActionItemFactory(incident=incident, title="Due today", due_date=today)
    ActionItemFactory(incident=incident, title="Closed", due_date=today - dt.timedelta(days=1), status="done",
                      completed_at=timezone.now())  # fmt: skip
    chat_overdue_announce_task()
    chat_overdue_announce_task()  # the same day again: nothing more
    deliver_all()
    (payload,) = receiver.payloads("/payments")
    assert (payload["type"], payload["data"]["id"]) == ("action_item.overdue", yesterday.pk)
    with time_machine.travel(dt.datetime(2026, 3, 19, 7, 0, tzinfo=dt.UTC), tick=False):
        chat_overdue_announce_task()
        deliver_all()
    assert [p["data"]["title"] for p in receiver.payloads("/payments")] == ["Due yesterday", "Due today"]


def test_report_ready_goes_to_the_teams_and_the_organisations_subscriptions(team, other_team, hook, subscribe,
                                                                           admin_user, receiver):  # fmt: skip
    organisation = subscribe(admin_user, None, "/organisation", event_types=["report.ready"])
    IncidentFactory(team=team, started_at=Week.last().start + dt.timedelta(days=1))
    week = Week.last()
    report_generate_task.apply(args=[week.monday.isoformat(), team.pk])
    report_generate_task.apply(args=[week.monday.isoformat(), None])
    deliver_all()
    (ours,) = receiver.payloads("/payments")
    assert ours["type"] == "report.ready"
    data = ours["data"]
    assert (data["week"], data["scope"], data["team"]) == (week.label, "team:payments", {"slug": "payments",
                                                                                        "name": "Payments"})  # fmt: skip
    assert data["url"] == f"{SITE}/reports/{week.label}/team:payments/"
    assert data["key_numbers"] and all(
        set(number) == {"label", "value", "change"} for number in data["key_numbers"]
    )
    assert sorted(p["data"]["scope"] for p in receiver.payloads("/organisation")) == [
        "organisation",
        "team:payments",
    ]
    assert organisation.event_types == ["report.ready"]


def test_a_subscription_receives_only_the_event_types_it_chose(client, reporter, team, subscribe, lead, receiver):
    subscribe(lead, team, "/published-only", event_types=["postmortem.published"])
    client.force_login(reporter)
    client.post("/incidents/new/", _incident_form(team))
    client.post("/near-misses/new/", _near_miss_form(team))
    deliver_all()
    assert receiver.types("/published-only") == ["postmortem.published"]


def test_another_teams_events_are_not_sent_to_a_team_subscription(client, outsider, other_team, hook, receiver):
    client.force_login(outsider)
    assert client.post("/incidents/new/", _incident_form(other_team)).status_code == 302
    deliver_all()
    assert receiver.requests == [] and not WebhookDelivery.objects.exists()


# --- The documentation's examples are what is sent --------------------------------------------------------------


def _documented_examples() -> dict[str, dict]:
    """event type → the example payload of docs/outbound-webhooks.md (the JSON blocks that carry a "type")."""
    examples = {}
    for block in re.findall(r"```json\n(.*?)\n```", DOCS.read_text(encoding="utf-8"), flags=re.S):
        payload = json.loads(block)
        if isinstance(payload, dict) and "type" in payload:
            examples[payload["type"]] = payload
    return examples


def test_the_documented_examples_have_the_shape_that_is_sent(client, reporter, lead, team, receiver, admin_user,
                                                            subscribe):  # fmt: skip
    everything = subscribe(admin_user, None, "/all")
    client.force_login(lead)
    client.post("/incidents/new/", _incident_form(team))
    incident = Incident.objects.get()
    client.post(
        f"/incidents/{incident.reference}/status/", {"status": "in_review", "expected_version": 1, "anyway": "on"}
    )
    client.post(
        f"/incidents/{incident.reference}/status/", {"status": "published", "expected_version": 2, "anyway": "on"}
    )
    yesterday = (timezone.localdate() - dt.timedelta(days=1)).isoformat()
    client.post(f"/incidents/{incident.reference}/action-items/",
                {"action-title": "Add a check", "action-due_date": yesterday})  # fmt: skip
    chat_overdue_announce_task()
    client.post(f"/action-items/{ActionItem.objects.get().pk}/complete/", {"status": "done"})
    report_generate_task.apply(args=[Week.last().monday.isoformat(), team.pk])
    webhook_services.webhook_test_send(actor=viewer_for_user(admin_user), subscription=everything)
    deliver_all()
    sent = {payload["type"]: payload for payload in receiver.payloads("/all")}
    assert set(sent) == {"incident.created", "postmortem.published", "action_item.created", "action_item.overdue",
                         "action_item.closed", "report.ready", "webhook.test"}  # fmt: skip
    examples = _documented_examples()
    assert set(examples) == set(sent)
    for event, payload in sent.items():
        assert set(examples[event]) == set(payload) == {"type", "timestamp", "data"}
        assert set(examples[event]["data"]) == set(payload["data"]), event
