"""/api/v1/incidents/: list with the web list's filters, detail, create from tools, versioned partial update."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from incidents.models import Incident, IncidentRevision
from tests.factories import (
    DeploymentFactory,
    IncidentFactory,
    NearMissFactory,
    ReleaseFactory,
    TimelineEntryFactory,
)

pytestmark = pytest.mark.django_db

URL = "/api/v1/incidents/"


def test_list_shows_visible_items_with_their_relations(reader, team, other_team, service):
    IncidentFactory(team=team, title="Checkout errors", causes=["missing-check"], services=[service])
    IncidentFactory(team=other_team, title="Auth outage")
    NearMissFactory(team=other_team, confidential=True, reporter=None, title="Hidden")
    body = reader.get(URL).json()
    titles = {row["title"] for row in body["results"]}
    assert titles == {"Checkout errors", "Auth outage"}  # learning travels; confidential does not
    row = next(row for row in body["results"] if row["title"] == "Checkout errors")
    assert row["services"] == ["checkout-api"]
    assert row["causes"] == [{"cause": "missing-check", "note": "", "gate": ""}]
    assert row["url"].endswith(f"/api/v1/incidents/{row['reference']}/")


def test_list_filters_like_the_web_list(reader, team, service, prod, staging):
    IncidentFactory(team=team, environment=prod, severity="sev1", title="Ledger drift", services=[service])
    NearMissFactory(team=team, environment=staging, title="Disk nearly full")
    assert [r["title"] for r in reader.get(URL, {"environment": "staging"}).json()["results"]] == [
        "Disk nearly full"
    ]
    assert [r["title"] for r in reader.get(URL, {"kind": "incident"}).json()["results"]] == ["Ledger drift"]
    assert reader.get(URL, {"service": "checkout-api"}).json()["count"] == 1
    assert [r["title"] for r in reader.get(URL, {"q": "ledger"}).json()["results"]] == ["Ledger drift"]


def test_list_orders_by_the_requested_field(reader, team):
    now = timezone.now()
    IncidentFactory(team=team, title="older", started_at=now - dt.timedelta(days=2))
    IncidentFactory(team=team, title="newer", started_at=now - dt.timedelta(days=1))
    results = reader.get(URL, {"ordering": "started"}).json()["results"]
    assert [r["title"] for r in results] == ["older", "newer"]


def test_invalid_filter_value_is_a_400_naming_the_parameter(reader):
    response = reader.get(URL, {"environment": "the moon"})
    assert response.status_code == 400
    assert "environment" in response.json()
    for value in ("a b", "a" * 101, "pro\x00d"):
        assert reader.get(URL, {"team": value}).status_code == 400, value


def test_a_slug_or_release_that_names_nothing_matches_nothing(reader, team):
    IncidentFactory(team=team)
    for params in ({"environment": "moon"}, {"team": ["moon", "mars"]}, {"cause": "x"}, {"release": 999999}):
        response = reader.get(URL, params)
        assert response.status_code == 200, params
        assert response.json()["count"] == 0, params
    assert reader.get(URL, {"team": [team.slug, "moon"]}).json()["count"] == 1


@pytest.mark.parametrize("page_size", ["null", "0", "-3", "201", "2.5", ""])
def test_a_page_size_outside_1_to_200_is_a_400_naming_it(reader, page_size):
    response = reader.get(URL, {"page_size": page_size})
    assert response.status_code == 400
    assert list(response.json()) == ["page_size"]


def test_list_is_paginated(reader, team):
    for _ in range(3):
        IncidentFactory(team=team)
    body = reader.get(URL, {"page_size": 2}).json()
    assert body["count"] == 3 and len(body["results"]) == 2 and body["next"]
    assert reader.get(URL, {"page": 9}).status_code == 404


def test_list_uses_a_fixed_number_of_queries(reader, team, service, django_assert_max_num_queries):
    release = ReleaseFactory(service=service)
    for _ in range(8):
        incident = IncidentFactory(team=team, causes=["missing-check", "config-drift"], services=[service])
        incident.releases.add(release)
    with django_assert_max_num_queries(9):
        response = reader.get(URL)
    assert response.json()["count"] == 8


def test_detail_lists_timeline_action_items_and_suspect_releases(reader, team, service, prod):
    incident = IncidentFactory(team=team, environment=prod, services=[service])
    TimelineEntryFactory(incident=incident, text="Pager went off")
    suspect = ReleaseFactory(service=service, version="2.4.0")
    DeploymentFactory(release=suspect, environment=prod, deployed_at=incident.started_at - dt.timedelta(hours=2))
    old = ReleaseFactory(service=service, version="2.3.0")
    DeploymentFactory(release=old, environment=prod, deployed_at=incident.started_at - dt.timedelta(days=3))
    response = reader.get(f"{URL}{incident.reference}/")
    body = response.json()
    assert response["ETag"] == f'"{incident.version}"'
    assert [entry["text"] for entry in body["timeline"]] == ["Pager went off"]
    assert [(r["service"], r["version"]) for r in body["suspect_releases"]] == [("checkout-api", "2.4.0")]


def test_unknown_reference_is_404(reader):
    assert reader.get(f"{URL}INC-999/").status_code == 404
    assert reader.get(f"{URL}garbage/").status_code == 404


def test_create_by_slugs_lands_in_triage(writer, service, prod):
    release = ReleaseFactory(service=service, version="1.4.2")
    response = writer.post(
        URL,
        {
            "kind": "incident",
            "title": "Checkout 500s",
            "severity": "sev2",
            "environment": "prod",
            "caught_by": "monitoring_alert",
            "services": ["checkout-api"],
            "releases": [{"service": "checkout-api", "version": "1.4.2"}],
            "causes": [{"cause": "missing-check", "note": "No contract test", "gate": "ci"}],
            "timeline": [{"at": "2026-11-20T10:00:00Z", "text": "Alert fired"}],
            "started_at": "2026-11-20T09:55:00Z",
            "source": "incident-bot",
            "external_id": "PD-1",
        },
    )
    assert response.status_code == 201, response.json()
    incident = Incident.objects.get()
    assert incident.status == Incident.Status.TRIAGE
    assert incident.environment == prod and list(incident.releases.all()) == [release]
    assert incident.incident_causes.get().note == "No contract test"
    assert response.json()["reference"] == incident.reference
    assert response.json()["timeline"][0]["text"] == "Alert fired"


def test_create_with_another_allowed_status(writer):
    response = writer.post(URL, {"kind": "near_miss", "title": "Caught in review", "status": "published"})
    assert response.status_code == 201
    assert response.json()["status"] == "published"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "incident", "title": "x", "environment": "moon"}, "environment"),
        ({"kind": "incident", "title": "x", "services": ["nope"]}, "services"),
        ({"kind": "incident", "title": "x", "causes": [{"cause": "blame"}]}, "causes"),
        (
            {"kind": "incident", "title": "x", "releases": [{"service": "checkout-api", "version": "9"}]},
            "releases",
        ),
        ({"kind": "outage", "title": "x"}, "kind"),
        ({"kind": "incident"}, "title"),
        ({"kind": "incident", "title": "x", "severity": "sev9"}, "severity"),
        ({"kind": "incident", "title": "x", "status": "dismissed"}, "status"),
        ({"kind": "incident", "title": "x", "source": "web", "external_id": "1"}, "source"),
        ({"kind": "incident", "title": "x", "started_at": "yesterday"}, "started_at"),
        (
            {
                "kind": "incident",
                "title": "x",
                "started_at": "2026-11-20T10:00:00Z",
                "detected_at": "2026-11-19T10:00Z",
            },
            "detected_at",
        ),
        ({"kind": "incident", "title": "x", "gates": "ignored", "causes": "missing-check"}, "causes"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(writer, service, body, field):
    response = writer.post(URL, body)
    assert response.status_code == 400
    assert field in response.json()
    assert not Incident.objects.exists()


def test_client_cannot_set_reporter_number_version_or_created_time(writer, lead):
    response = writer.post(
        URL,
        {
            "kind": "incident", "title": "x", "number": 999, "version": 50, "reporter": lead.username,
            "created_at": "2000-01-01T00:00:00Z", "team": "platform", "confidential": True,
        },
    )  # fmt: skip
    body = response.json()
    assert response.status_code == 201
    assert body["number"] != 999 and body["version"] == 1 and body["reporter"] is None
    assert not body["created_at"].startswith("2000") and body["team"] == "payments"
    assert body["confidential"] is False


def test_repeated_source_and_external_id_returns_the_existing_item(writer):
    first = writer.post(URL, {"kind": "incident", "title": "x", "source": "ci", "external_id": "run-7"})
    again = writer.post(URL, {"kind": "incident", "title": "x again", "source": "ci", "external_id": "run-7"})
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["reference"] == first.json()["reference"]
    assert Incident.objects.count() == 1


def test_external_id_of_another_team_is_refused(writer, other_writer):
    other_writer.post(URL, {"kind": "incident", "title": "x", "source": "ci", "external_id": "run-7"})
    response = writer.post(URL, {"kind": "incident", "title": "y", "source": "ci", "external_id": "run-7"})
    assert response.status_code == 400
    assert "external_id" in response.json()


def test_partial_update_with_the_current_version(writer, team):
    incident = IncidentFactory(team=team, status="triage")
    response = writer.patch(
        f"{URL}{incident.reference}/", {"title": "Checkout 502s", "status": "draft", "version": 1}
    )
    assert response.status_code == 200
    assert response.json()["version"] == 2 and response["ETag"] == '"2"'
    incident.refresh_from_db()
    assert (incident.title, incident.status, incident.version) == ("Checkout 502s", "draft", 2)


def test_every_version_filed_or_changed_through_the_api_is_kept(writer, team):
    created = writer.post(URL, {"kind": "incident", "title": "Queue stalled", "summary": "As first written."})
    reference = created.json()["reference"]
    writer.patch(f"{URL}{reference}/", {"summary": "Rewritten.", "version": 1})
    kept = IncidentRevision.objects.filter(incident__team=team).order_by("version")
    assert [(r.version, r.summary, r.author) for r in kept] == [
        (1, "As first written.", None),
        (2, "Rewritten.", None),
    ]


def test_partial_update_with_if_match(writer, team):
    incident = IncidentFactory(team=team)
    response = writer.patch(f"{URL}{incident.reference}/", {"summary": "New"}, HTTP_IF_MATCH='"1"')
    assert response.status_code == 200
    assert response.json()["summary"] == "New"


def test_stale_version_field_gets_409_and_changes_nothing(writer, team):
    incident = IncidentFactory(team=team, title="Original")
    writer.patch(f"{URL}{incident.reference}/", {"summary": "first", "version": 1})
    response = writer.patch(f"{URL}{incident.reference}/", {"title": "Overwrite", "version": 1})
    assert response.status_code == 409
    assert response.json()["current_version"] == 2
    incident.refresh_from_db()
    assert incident.title == "Original" and incident.summary == "first"


def test_stale_if_match_gets_412(writer, team):
    incident = IncidentFactory(team=team)
    writer.patch(f"{URL}{incident.reference}/", {"summary": "first"}, HTTP_IF_MATCH='"1"')
    response = writer.patch(f"{URL}{incident.reference}/", {"title": "late"}, HTTP_IF_MATCH='"1"')
    assert response.status_code == 412


def test_update_without_a_version_gets_428(writer, team):
    incident = IncidentFactory(team=team)
    response = writer.patch(f"{URL}{incident.reference}/", {"title": "blind"})
    assert response.status_code == 428
    incident.refresh_from_db()
    assert incident.title != "blind"


def test_update_with_a_bad_transition_names_status(writer, team):
    incident = IncidentFactory(team=team, status="published")
    response = writer.patch(f"{URL}{incident.reference}/", {"status": "triage", "version": 1})
    assert response.status_code == 400
    assert "status" in response.json()


def test_update_replaces_causes_and_ignores_a_partial_cause(writer, team):
    incident = IncidentFactory(team=team, causes=["missing-check"])
    response = writer.patch(f"{URL}{incident.reference}/", {"causes": [{"gate": "ci"}], "version": 1})
    assert response.status_code == 400
    assert "causes" in response.json()
    response = writer.patch(f"{URL}{incident.reference}/", {"causes": [{"cause": "config-drift"}], "version": 1})
    assert [c["cause"] for c in response.json()["causes"]] == ["config-drift"]


def test_put_and_delete_are_not_allowed(writer, team):
    incident = IncidentFactory(team=team)
    assert writer.client.put(f"{URL}{incident.reference}/", {}, format="json").status_code == 405
    assert writer.client.delete(f"{URL}{incident.reference}/").status_code == 405
    assert Incident.objects.filter(pk=incident.pk).exists()


@pytest.mark.parametrize("params", [{"started_to": "9999-12-31"}, {"started_from": "0001-01-01"}])
def test_dates_outside_the_accepted_years_are_a_400_naming_the_filter(reader, team, params):
    IncidentFactory(team=team)
    response = reader.get(URL, params)
    assert response.status_code == 400
    assert set(response.json()) == set(params)
    assert "1970" in str(response.json())


@pytest.mark.parametrize("params", [{"started_to": "2100-12-31"}, {"started_from": "1970-01-01"}])
def test_dates_at_the_ends_of_the_accepted_years_filter_without_error(reader, team, params):
    IncidentFactory(team=team)
    response = reader.get(URL, params)
    assert response.status_code == 200
    assert response.json()["count"] == 1
