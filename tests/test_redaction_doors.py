"""Redaction on ingest in every door: the web forms, the API and the Alertmanager webhook.

Each door gets every positive of the corpus (tests/test_redaction.py) and every negative, in one text each;
positives come back as their placeholders, negatives exactly as sent, and the person or tool is told.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from incidents.models import ActionItem, ApiToken, Incident, TimelineEntry
from incidents.services import api_token_create
from tests.api.conftest import Tool, payload
from tests.factories import IncidentFactory, cause
from tests.test_redaction import NEGATIVES, POSITIVES

pytestmark = pytest.mark.django_db

SEPARATOR = "\n\n"
DIRTY = SEPARATOR.join(text for text, _, _ in POSITIVES)
CLEANED = SEPARATOR.join(expected for _, _, expected in POSITIVES)
CLEAN = SEPARATOR.join(NEGATIVES)
KINDS = {kind for _, kind, _ in POSITIVES}


@pytest.fixture
def writer(team) -> Tool:
    return Tool(*api_token_create(name="pipeline", team=team, scope=ApiToken.Scope.WRITE))


def test_the_corpus_survives_being_joined():
    from incidents.redaction import redact_text

    assert redact_text(DIRTY)[0] == CLEANED
    assert redact_text(CLEAN) == (CLEAN, {})


def test_near_miss_form_redacts_and_says_so(client, reporter, team, staging):
    client.force_login(reporter)
    response = client.post(
        reverse("incidents:near_miss_create"),
        {"title": "Token in a log line", "summary": DIRTY, "potential_impact": CLEAN, "environment": staging.pk,
         "caught_by": "code_review", "causes": [cause("secret-handling").pk], "team": team.pk},
        follow=True,
    )  # fmt: skip
    near_miss = Incident.objects.get(kind="near_miss")
    assert (near_miss.summary, near_miss.potential_impact) == (CLEANED, CLEAN)
    notices = [str(message) for message in response.context["messages"]]
    assert any("Personal data and secrets were replaced before saving" in notice and "summary" in notice
               for notice in notices)  # fmt: skip


def test_postmortem_editor_timeline_and_action_items_redact(client, reporter, team):
    incident = IncidentFactory(team=team, status=Incident.Status.DRAFT)
    client.force_login(reporter)
    edit = {
        "expected_version": 1, "title": incident.title, "severity": incident.severity,
        "environment": incident.environment_id, "caught_by": incident.caught_by,
        "started_at": timezone.localtime(incident.started_at).strftime("%Y-%m-%dT%H:%M"),
        "summary": CLEAN, "trigger": "", "body": DIRTY,
    }  # fmt: skip
    assert client.post(reverse("incidents:incident_edit", args=[incident.reference]), edit).status_code == 302
    incident.refresh_from_db()
    assert (incident.body, incident.summary) == (CLEANED, CLEAN)
    assert "AKIA" not in incident.body_html and "[secret]" in incident.body_html
    assert "AKIA" not in incident.revisions.get(version=2).body

    at = timezone.localtime(incident.started_at).strftime("%Y-%m-%dT%H:%M")
    client.post(
        reverse("incidents:timeline_add", args=[incident.reference]), {"timeline-at": at, "timeline-text": DIRTY}
    )
    assert TimelineEntry.objects.get(incident=incident).text == CLEANED
    client.post(
        reverse("incidents:action_item_add", args=[incident.reference]),
        {
            "action-title": "Rotate AKIAIOSFODNN7EXAMPLE",
            "action-ticket_url": "https://t.example/1?token=abc123def",
        },
    )
    item = ActionItem.objects.get(incident=incident)
    assert (item.title, item.ticket_url) == ("Rotate [secret]", "https://t.example/1?token=[secret]")


def test_api_incident_create_redacts_every_text_and_reports_it(writer, prod):
    started = timezone.now() - dt.timedelta(hours=1)
    response = writer.post(
        "/api/v1/incidents/",
        {"kind": "incident", "title": "Leak from 10.0.0.12", "summary": DIRTY, "trigger": CLEAN, "body": DIRTY,
         "environment": "prod", "started_at": started.isoformat(),
         "causes": [{"cause": "secret-handling", "note": "key AKIAIOSFODNN7EXAMPLE", "gate": "ci"}],
         "timeline": [{"at": started.isoformat(), "text": DIRTY}]},
    )  # fmt: skip
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["title"], body["summary"], body["trigger"], body["body"]) == (
        "Leak from [ip]", CLEANED, CLEAN, CLEANED,
    )  # fmt: skip
    assert body["timeline"][0]["text"] == CLEANED
    assert body["causes"][0]["note"] == "key [secret]"
    assert set(body["redacted"]) == {"title", "summary", "body", "timeline.text", "cause.note"}
    assert set(body["redacted"]["summary"]) == KINDS
    again = writer.get(f"/api/v1/incidents/{body['reference']}/").json()
    assert again["redacted"] == {} and again["summary"] == CLEANED


def test_api_update_and_action_items_redact(writer, team):
    incident = IncidentFactory(team=team, status=Incident.Status.DRAFT)
    response = writer.patch(f"/api/v1/incidents/{incident.reference}/", {"version": 1, "summary": DIRTY})
    assert response.status_code == 200 and response.json()["summary"] == CLEANED
    assert set(response.json()["redacted"]) == {"summary"}
    item = writer.post("/api/v1/action-items/", {"incident": incident.reference, "title": "Mail bob@example.com"})
    assert item.status_code == 201, item.json()
    assert item.json()["title"] == "Mail [email]" and item.json()["redacted"] == {
        "action_item.title": {"email": 1}
    }


def test_reject_policy_refuses_with_the_field_named_and_saves_nothing(
    writer, settings, client, reporter, team, staging
):
    settings.REDACTION_FIELD_POLICIES = {"summary": "reject"}
    response = writer.post(
        "/api/v1/incidents/", {"kind": "incident", "title": "x", "summary": "mail bob@example.com"}
    )
    assert response.status_code == 400
    assert "an e-mail address" in response.json()["summary"][0]
    client.force_login(reporter)
    page = client.post(
        reverse("incidents:near_miss_create"),
        {
            "title": "x",
            "summary": "call 202-555-0143",
            "environment": staging.pk,
            "caught_by": "luck",
            "team": team.pk,
        },
    )
    assert page.status_code == 400
    assert "a phone number" in page.context["form"].errors["summary"][0]
    assert not Incident.objects.exists()


def test_alertmanager_alerts_are_redacted_and_reported(writer):
    body = payload("alertmanager_firing.json")
    body["alerts"] = body["alerts"][:1]
    body["alerts"][0]["annotations"] = {"summary": "Disk full on 10.1.2.3", "description": DIRTY}
    response = writer.post("/api/v1/hooks/alertmanager/", body)
    assert response.status_code == 200, response.json()
    (reference,) = response.json()["created"]
    item = Incident.objects.get(source="alertmanager")
    assert "10.1.2.3" not in item.title and "[ip]" in item.title
    assert item.summary.startswith(CLEANED)
    assert set(response.json()["redacted"][reference]) == {"title", "summary"}
