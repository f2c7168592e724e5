"""Reference data, releases, deployments, action items and reports."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from incidents.models import ActionItem, Deployment, Release, TrendReport
from tests.factories import (
    ActionItemFactory,
    DeploymentFactory,
    IncidentFactory,
    MembershipFactory,
    NearMissFactory,
    ReleaseFactory,
    ServiceFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


# --- Reference data --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "slug"),
    [
        ("/api/v1/causes/", "missing-check"),
        ("/api/v1/environments/", "prod"),
        ("/api/v1/services/", "checkout-api"),
        ("/api/v1/teams/", "payments"),
    ],
)
def test_reference_lists_and_details_by_slug(reader, service, url, slug):
    listed = [row["slug"] for row in reader.get(url).json()["results"]]
    assert slug in listed
    assert reader.get(f"{url}{slug}/").json()["slug"] == slug
    assert reader.get(f"{url}no-such-thing/").status_code == 404


@pytest.mark.parametrize(
    "url", ["/api/v1/causes/", "/api/v1/environments/", "/api/v1/services/", "/api/v1/teams/"]
)
def test_reference_data_is_read_only(writer, url):
    assert writer.post(url, {"slug": "x", "name": "x"}).status_code == 405


def test_unknown_api_path_is_a_json_404(reader):
    response = reader.get("/api/v1/nothing-here/")
    assert response.status_code == 404
    assert response.json()["detail"]


# --- Releases --------------------------------------------------------------------------------------------


def test_release_create_then_repeat_returns_the_same(writer, service):
    body = {"service": "checkout-api", "version": "1.4.2", "commit_sha": "a" * 40, "artifact_digest": "sha256:ab"}
    first = writer.post("/api/v1/releases/", body)
    again = writer.post("/api/v1/releases/", body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"] and Release.objects.count() == 1


def test_release_with_a_conflicting_digest_names_the_field(writer, service):
    writer.post("/api/v1/releases/", {"service": "checkout-api", "version": "1.0", "artifact_digest": "sha256:a"})
    response = writer.post(
        "/api/v1/releases/", {"service": "checkout-api", "version": "1.0", "artifact_digest": "sha256:b"}
    )
    assert response.status_code == 400
    assert "artifact_digest" in response.json()


def test_release_of_another_teams_service_is_refused(writer, other_team):
    ServiceFactory(slug="auth-service", owner_team=other_team)
    response = writer.post("/api/v1/releases/", {"service": "auth-service", "version": "1.0"})
    assert response.status_code == 400
    assert "service" in response.json()


def test_release_list_filters_by_service_and_pins_queries(reader, service, django_assert_max_num_queries):
    for _ in range(5):
        DeploymentFactory(release=ReleaseFactory(service=service))
    ReleaseFactory(service=ServiceFactory(slug="ledger"))
    with django_assert_max_num_queries(6):  # token, its last use, service filter, count, page, deployments
        body = reader.get("/api/v1/releases/", {"service": "checkout-api"}).json()
    assert body["count"] == 5
    assert body["results"][0]["deployments"][0]["environment"] == "prod"
    assert reader.get(f"/api/v1/releases/{body['results'][0]['id']}/").status_code == 200
    assert reader.get("/api/v1/releases/abc/").status_code == 404


# --- Deployments -----------------------------------------------------------------------------------------

DEPLOYMENT = {
    "service": "checkout-api",
    "version": "2.0.0",
    "environment": "prod",
    "status": "succeeded",
    "gates": {"unit-tests": "passed", "security-scan": "skipped"},
    "rollback_rehearsed": True,
    "artifact_digest": "sha256:feed",
    "commit": "b" * 40,
}


def test_deployment_from_ci_creates_the_release_in_one_call(writer, service, prod):
    response = writer.post("/api/v1/deployments/", DEPLOYMENT)
    assert response.status_code == 201, response.json()
    deployment = Deployment.objects.select_related("release").get()
    assert deployment.release.version == "2.0.0" and deployment.release.commit_sha == "b" * 40
    assert deployment.release.artifact_digest == "sha256:feed"
    assert deployment.environment == prod and deployment.rollback_rehearsed
    assert response.json()["gates"] == DEPLOYMENT["gates"]


def test_deployment_with_external_id_updates_on_repeat(writer, service):
    started = writer.post("/api/v1/deployments/", {**DEPLOYMENT, "status": "failed", "external_id": "run-9"})
    finished = writer.post("/api/v1/deployments/", {**DEPLOYMENT, "status": "rolled_back", "external_id": "run-9"})
    assert (started.status_code, finished.status_code) == (201, 200)
    assert Deployment.objects.get().status == "rolled_back"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"gates": {"unit": "green"}}, "gates"),
        ({"gates": ["unit"]}, "gates"),
        ({"environment": "moon"}, "environment"),
        ({"status": "done"}, "status"),
        ({"service": "nope"}, "service"),
        ({"deployed_at": "soon"}, "deployed_at"),
        ({"version": ""}, "version"),
    ],
)
def test_bad_deployment_names_the_field(writer, service, change, field):
    response = writer.post("/api/v1/deployments/", {**DEPLOYMENT, **change})
    assert response.status_code == 400
    assert field in response.json()
    assert not Release.objects.exists()


def test_deployment_list_filters_and_pins_queries(reader, service, staging, django_assert_max_num_queries):
    for _ in range(4):
        DeploymentFactory(release=ReleaseFactory(service=service))
    DeploymentFactory(release=ReleaseFactory(service=service), environment=staging)
    with django_assert_max_num_queries(5):  # token, its last use, environment filter, count, page
        body = reader.get("/api/v1/deployments/", {"environment": "prod"}).json()
    assert body["count"] == 4 and {row["environment"] for row in body["results"]} == {"prod"}


# --- Action items ----------------------------------------------------------------------------------------


def test_action_item_create_on_own_incident(writer, team, reporter):
    incident = IncidentFactory(team=team)
    response = writer.post(
        "/api/v1/action-items/",
        {"incident": incident.reference, "title": "Add a contract test", "owner": "rita", "team": "payments",
         "due_date": "2026-12-31", "cause": "missing-check", "ticket_url": "https://tickets.example.com/1"},
    )  # fmt: skip
    assert response.status_code == 201, response.json()
    item = ActionItem.objects.get()
    assert (item.owner, item.cause.slug, item.incident) == (reporter, "missing-check", incident)


def test_action_item_owner_must_be_on_the_team(writer, team, outsider):
    incident = IncidentFactory(team=team)
    response = writer.post(
        "/api/v1/action-items/", {"incident": incident.reference, "title": "x", "owner": "otto"}
    )
    assert response.status_code == 400
    assert "owner" in response.json()


def test_action_item_on_another_teams_incident_is_refused(writer, other_team):
    incident = IncidentFactory(team=other_team)
    response = writer.post("/api/v1/action-items/", {"incident": incident.reference, "title": "x"})
    assert response.status_code == 400
    assert "incident" in response.json()


def test_action_item_partial_update_and_close(writer, team):
    item = ActionItemFactory(incident=IncidentFactory(team=team))
    response = writer.patch(f"/api/v1/action-items/{item.pk}/", {"title": "Renamed", "due_date": None})
    assert response.status_code == 200 and response.json()["title"] == "Renamed"
    response = writer.patch(f"/api/v1/action-items/{item.pk}/", {"status": "done"})
    item.refresh_from_db()
    assert response.json()["status"] == "done" and item.completed_at is not None


def test_action_item_of_another_team_cannot_be_changed(writer, other_team):
    item = ActionItemFactory(incident=IncidentFactory(team=other_team))
    assert writer.patch(f"/api/v1/action-items/{item.pk}/", {"title": "mine"}).status_code == 403


def test_action_items_of_hidden_incidents_are_not_listed(reader, other_team, team, django_assert_max_num_queries):
    ActionItemFactory(incident=NearMissFactory(team=other_team, confidential=True, reporter=None))
    visible = [ActionItemFactory(incident=IncidentFactory(team=team)) for _ in range(3)]
    with django_assert_max_num_queries(4):
        body = reader.get("/api/v1/action-items/").json()
    assert sorted(row["id"] for row in body["results"]) == sorted(item.pk for item in visible)


@pytest.mark.parametrize("due_before", ["0001-01-01", "9999-12-31", "soon"])
def test_action_items_due_before_outside_the_accepted_years_is_a_400_naming_it(reader, team, due_before):
    ActionItemFactory(incident=IncidentFactory(team=team), due_date=dt.date(2026, 12, 1))
    response = reader.get("/api/v1/action-items/", {"due_before": due_before})
    assert response.status_code == 400
    assert list(response.json()) == ["due_before"]


def test_action_items_due_before_filters_by_day(reader, team):
    incident = IncidentFactory(team=team)
    early = ActionItemFactory(incident=incident, due_date=dt.date(2026, 11, 1))
    ActionItemFactory(incident=incident, due_date=dt.date(2026, 12, 1))
    body = reader.get("/api/v1/action-items/", {"due_before": "2026-12-01"}).json()
    assert [row["id"] for row in body["results"]] == [early.pk]


@pytest.mark.parametrize(
    "query",
    [
        "/api/v1/action-items/?due_before=junk&due_before=",
        "/api/v1/releases/?version=1.0&version=2.0",
        "/api/v1/deployments/?deployed_from=2026-01-01T00:00:00Z&deployed_from=",
        "/api/v1/incidents/?started_from=2026-01-01&started_from=2026-02-01",
    ],
)
def test_a_one_value_parameter_given_twice_is_a_400_naming_it(reader, query):
    response = reader.get(query)
    assert response.status_code == 400
    name = query.split("?")[1].split("=")[0]
    assert list(response.json()) == [name]
    assert response.json()[name] == ["Give this parameter once."]


def test_a_repeatable_parameter_may_be_repeated(reader, team, other_team):
    response = reader.get(f"/api/v1/incidents/?team={team.slug}&team={other_team.slug}")
    assert response.status_code == 200


# --- Reports ---------------------------------------------------------------------------------------------


def _report(scope: str, team=None, week_start=dt.date(2026, 11, 16), status="ready", data=None) -> TrendReport:
    return TrendReport.objects.create(
        week_start=week_start, scope=scope, team=team, status=status,
        data=data or {"week": "2026-W47", "scope": scope}, generated_at=timezone.now(),
    )  # fmt: skip


def test_reports_list_shows_every_ready_report(reader, team, other_team):
    _report("organisation")
    _report("team:payments", team)
    _report("team:platform", other_team)
    _report("organisation", week_start=dt.date(2026, 11, 9), status="pending")
    rows = reader.get("/api/v1/reports/").json()["results"]
    assert sorted((row["week"], row["scope"]) for row in rows) == [
        ("2026-W47", "organisation"),
        ("2026-W47", "team:payments"),
        ("2026-W47", "team:platform"),  # aggregates only, as on the web: learning travels
    ]


def test_report_detail_serves_the_stored_data(reader, team, other_team):
    _report("organisation", data={"week": "2026-W47", "scope": "organisation", "counts": {"near_misses": [1]}})
    _report("team:payments", team, data={"week": "2026-W47", "scope": "team:payments"})
    _report("team:platform", other_team)
    assert reader.get("/api/v1/reports/2026-W47/").json()["counts"] == {"near_misses": [1]}
    assert reader.get("/api/v1/reports/2026-W47/", {"scope": "team:payments"}).json()["scope"] == "team:payments"
    assert reader.get("/api/v1/reports/2026-W47/", {"scope": "team:platform"}).status_code == 200
    assert reader.get("/api/v1/reports/2026-W47/", {"scope": "team:nobody"}).status_code == 404
    assert reader.get("/api/v1/reports/2026-W46/").status_code == 404
    assert reader.get("/api/v1/reports/2025-W53/").status_code == 404  # 2025 has 52 weeks


def test_report_not_ready_is_404(reader):
    _report("organisation", status="running")
    assert reader.get("/api/v1/reports/2026-W47/").status_code == 404


@pytest.mark.parametrize("week", ["2026-47", "2026-W7", "last-week", "2026-W047"])
def test_malformed_week_is_400_naming_the_parameter(reader, week):
    response = reader.get(f"/api/v1/reports/{week}/")
    assert response.status_code == 400
    assert "week" in response.json()


@pytest.mark.parametrize("week", ["1969-W01", "2101-W01", "0000-W01", "9999-W52"])
def test_week_of_a_year_out_of_range_is_400_naming_the_parameter(reader, week):
    response = reader.get(f"/api/v1/reports/{week}/")
    assert response.status_code == 400
    assert "1970 and 2100" in response.json()["week"][0]


def test_malformed_scope_is_400(reader):
    assert "scope" in reader.get("/api/v1/reports/2026-W47/", {"scope": "everything"}).json()


def test_member_session_sees_every_teams_reports(team, other_team):
    from rest_framework.test import APIClient

    person = MembershipFactory(user=UserFactory(username="pat"), team=team).user
    _report("team:payments", team)
    _report("team:platform", other_team)
    client = APIClient()
    client.force_login(person)
    scopes = sorted(row["scope"] for row in client.get("/api/v1/reports/").json()["results"])
    assert scopes == ["team:payments", "team:platform"]


def test_api_search_finds_an_item_by_its_number(reader, team):
    incident = IncidentFactory(team=team, title="Queue stalled")
    near_miss = NearMissFactory(team=team, title="Queue nearly stalled")
    for term, expected in [
        (incident.reference, {incident.reference}),
        (near_miss.reference.lower(), {near_miss.reference}),
        (
            f"#{near_miss.number}",
            {
                r
                for r, n in [(incident.reference, incident.number), (near_miss.reference, near_miss.number)]
                if n == near_miss.number
            },
        ),
    ]:
        body = reader.get("/api/v1/incidents/", {"q": term}).json()
        assert {row["reference"] for row in body["results"]} == expected, term
