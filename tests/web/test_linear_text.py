"""Pathological text through every door is accepted, rendered and redacted (it used to hang a worker).

Each of these took minutes with the regex-based Markdown renderer, the quadratic detectors or difflib;
their cost is measured in bench/hostile_input.py (P7), never here.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from incidents.models import Incident
from tests.api.conftest import Tool
from tests.factories import IncidentFactory, cause

pytestmark = pytest.mark.django_db
API_URL = "/api/v1/incidents/"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"


@pytest.fixture
def writer(team) -> Tool:
    from incidents.models import ApiToken
    from incidents.services import api_token_create

    return Tool(*api_token_create(name="alerting", team=team, scope=ApiToken.Scope.WRITE))


def test_api_accepts_sixteen_thousand_brackets_and_renders_them_as_text(writer):
    response = writer.post(API_URL, {"kind": "incident", "title": "Brackets", "body": "[" * 16_000})
    assert response.status_code == 201
    body_html = response.json()["body_html"]
    assert body_html == "<p>" + "[" * 16_000 + "</p>"
    assert Incident.objects.get().body_html == body_html


@pytest.mark.parametrize(
    "body", ["![" * 10_000, "*a _b " * 5_000, "|a|\n" * 10_000, "> " * 10_000 + "deep", "- [ ] x\n" * 10_000]
)
def test_api_renders_other_pathological_bodies(writer, body):
    response = writer.post(API_URL, {"kind": "incident", "title": "Shapes", "body": body})
    assert response.status_code == 201
    assert response.json()["body_html"].startswith("<")


def test_api_still_redacts_secrets_and_emails_hidden_in_hostile_text(writer):
    summary = "a." * 4_000 + " postgres://app:hunter2secret@db/app " + "eyJ-" * 500 + " " + JWT
    body = "%" * 5_000 + " mail ops@example.com " + "xoxb-" * 2_000 + " [" * 3_000
    response = writer.post(API_URL, {"kind": "incident", "title": "Leaky", "summary": summary, "body": body})
    assert response.status_code == 201
    stored = Incident.objects.get()
    assert "hunter2secret" not in stored.summary and "postgres://app:[secret]@db/app" in stored.summary
    assert JWT not in stored.summary and "[secret]" in stored.summary.rsplit(" ", 1)[-1]
    assert "ops@example.com" not in stored.body and "mail [email]" in stored.body
    assert "ops@example.com" not in stored.body_html


def test_api_refuses_a_summary_past_twenty_thousand_characters_naming_the_field(writer):
    response = writer.post(API_URL, {"kind": "incident", "title": "Long", "summary": "[" * 20_001})
    assert response.status_code == 400 and "summary" in response.json()


@pytest.mark.parametrize("body", ["[" * 16_000, "![" * 10_000, "a." * 10_000, "human error " + "_" * 20_000])
def test_preview_renders_pathological_text(login, reporter, body):
    response = login(reporter).post(reverse("incidents:preview"), {"body": body})
    assert response.status_code == 200
    assert "<p>" in response.content.decode()


def test_preview_still_shows_blame_hints_in_pathological_text(login, reporter):
    response = login(reporter).post(reverse("incidents:preview"), {"body": "[" * 10_000 + " human error"})
    assert response.status_code == 200 and "human error" in response.content.decode()
    assert response.context["hints"]


def _near_miss(team, staging, **fields):
    data = {
        "title": "Hostile text", "summary": "x", "environment": staging.pk, "caught_by": "code_review",
        "causes": [cause("missing-check").pk], "team": team.pk,
    }  # fmt: skip
    data.update(fields)
    return data


def test_near_miss_form_accepts_pathological_text_and_redacts_it(login, reporter, team, staging):
    summary = "a." * 4_000 + " password=hunter2secret " + "%" * 5_000 + " bob@example.com"
    impact = "[" * 10_000 + " https://user:pw123456@db.example/x"
    response = login(reporter).post(
        reverse("incidents:near_miss_create"), _near_miss(team, staging, summary=summary, potential_impact=impact)
    )
    assert response.status_code == 302
    stored = Incident.objects.get()
    assert "hunter2secret" not in stored.summary and "password=[secret]" in stored.summary
    assert stored.summary.endswith(" [email]")
    assert (
        "pw123456" not in stored.potential_impact
        and "https://user:[secret]@db.example/x" in stored.potential_impact
    )


def test_near_miss_form_refuses_a_summary_past_twenty_thousand_characters(login, reporter, team, staging):
    response = login(reporter).post(
        reverse("incidents:near_miss_create"), _near_miss(team, staging, summary="a" * 20_001)
    )
    assert response.status_code in (200, 400)
    assert "at most 20000 characters" in response.content.decode()
    assert not Incident.objects.exists()


def test_editor_refuses_a_body_past_two_hundred_thousand_characters(login, reporter, team):
    incident = IncidentFactory(team=team, status="draft", body="")
    data = {
        "expected_version": 1, "title": incident.title, "severity": incident.severity,
        "environment": incident.environment_id, "caught_by": incident.caught_by,
        "started_at": incident.started_at.strftime("%Y-%m-%dT%H:%M"), "body": "[" * 200_001,
    }  # fmt: skip
    response = login(reporter).post(reverse("incidents:incident_edit", args=[incident.reference]), data)
    assert response.status_code == 400
    assert "at most 200000 characters" in response.content.decode()
    incident.refresh_from_db()
    assert incident.version == 1 and incident.body == ""


def test_history_shows_a_diff_of_repetitive_revisions(login, reporter, team):
    incident = IncidentFactory(team=team, status="draft", body="")
    client = login(reporter)
    url = reverse("incidents:incident_edit", args=[incident.reference])
    for version, body in ((1, "a\nb\n" * 4_000), (2, "a\na\nb\nb\n" * 2_000)):
        data = {
            "expected_version": version, "title": incident.title, "severity": incident.severity,
            "environment": incident.environment_id, "caught_by": incident.caught_by,
            "started_at": incident.started_at.strftime("%Y-%m-%dT%H:%M"), "body": body,
        }  # fmt: skip
        assert client.post(url, data).status_code == 302
    page = client.get(reverse("incidents:revision_diff", args=[incident.reference, 3])).content.decode()
    assert "too large to compare line by line" in page
    assert '<tr class="diff-removed">' in page and '<tr class="diff-added">' in page
