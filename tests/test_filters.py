"""The shared incident filters and full-text search, as the web list, the API and report links use them."""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
from django.utils import timezone

from incidents.filters import IncidentFilter
from incidents.models import Incident, IncidentCause
from incidents.search import search_document_sql
from incidents.selectors import suspect_releases
from tests.factories import (
    DeploymentFactory,
    IncidentFactory,
    NearMissFactory,
    ReleaseFactory,
    ServiceFactory,
)

pytestmark = pytest.mark.django_db


def refs(params: dict) -> set[str]:
    filterset = IncidentFilter(params, queryset=Incident.objects.all())
    assert filterset.is_valid(), filterset.errors
    return {incident.reference for incident in filterset.qs}


def test_search_matches_every_word_across_title_summary_and_body():
    hit = IncidentFactory(
        title="Connection pool exhausted", summary="Checkout timed out", body="Raise the pool limit"
    )
    IncidentFactory(title="Connection refused", summary="DNS", body="")
    assert refs({"q": "connection checkout"}) == {hit.reference}
    assert refs({"q": "pool limit"}) == {hit.reference}
    assert refs({"q": "   "}) == {hit.reference, *refs({})}


def test_search_treats_punctuation_and_sql_characters_as_text():
    IncidentFactory(title="100% of requests failed")
    assert refs({"q": "'; DROP TABLE incidents_incident; --"}) == set()
    assert refs({"q": "%"}) in (set(), {i.reference for i in Incident.objects.all()})
    assert Incident.objects.count() == 1


def test_postgres_index_expression_matches_the_search_document():
    migration = importlib.import_module("incidents.migrations.0003_incident_search_index")
    assert search_document_sql() == migration.DOCUMENT


def test_filters_by_kind_status_environment_severity_and_team(team, other_team):
    incident = IncidentFactory(team=team, severity="sev1", status="published")
    near_miss = NearMissFactory(team=other_team, severity="sev3")
    triage = IncidentFactory(team=team, status="triage")
    assert refs({"kind": "near_miss"}) == {near_miss.reference}
    assert refs({"status": ["triage", "draft"]}) == {triage.reference}
    assert refs({"environment": ["staging"]}) == {near_miss.reference}
    assert refs({"severity": ["sev1", "sev3"]}) == {incident.reference, near_miss.reference}
    assert refs({"team": ["payments"]}) == {incident.reference, triage.reference}
    assert refs({"counted": "true"}) == {incident.reference, near_miss.reference}
    assert refs({"counted": "false"}) == {triage.reference}


def test_cause_and_gate_filter_the_same_tag_without_duplicates():
    both = IncidentFactory(causes=["missing-check", "config-drift"])
    IncidentCause.objects.filter(incident=both, cause__slug="missing-check").update(gate="ci")
    other = IncidentFactory(causes=["config-drift"])
    IncidentCause.objects.filter(incident=other).update(gate="ci")
    assert refs({"cause": ["missing-check", "config-drift"]}) == {both.reference, other.reference}
    filterset = IncidentFilter({"cause": ["missing-check", "config-drift"]}, queryset=Incident.objects.all())
    assert filterset.qs.count() == 2
    assert refs({"cause": ["missing-check"], "gate": "ci"}) == {both.reference}
    assert refs({"cause": ["config-drift"], "gate": "ci"}) == {other.reference}
    assert refs({"gate": "ci"}) == {both.reference, other.reference}


def test_service_and_release_filters():
    service = ServiceFactory(slug="ledger")
    release = ReleaseFactory(service=service)
    linked = IncidentFactory(services=[service])
    linked.releases.add(release)
    IncidentFactory()
    assert refs({"service": ["ledger"]}) == {linked.reference}
    assert refs({"release": release.pk}) == {linked.reference}


def test_date_range_is_inclusive_local_days(settings):
    settings.TIME_ZONE = "Europe/Paris"
    paris = timezone.get_fixed_timezone(60)
    late_sunday = IncidentFactory(started_at=dt.datetime(2026, 11, 22, 23, 30, tzinfo=paris))
    monday = IncidentFactory(started_at=dt.datetime(2026, 11, 23, 0, 10, tzinfo=paris))
    with timezone.override("Europe/Paris"):
        assert refs({"started_from": "2026-11-16", "started_to": "2026-11-22"}) == {late_sunday.reference}
        assert refs({"started_from": "2026-11-23"}) == {monday.reference}


def test_malformed_values_are_errors_naming_the_field():
    filterset = IncidentFilter(
        {"environment": ["the moon"], "severity": ["sev9"], "started_from": "yesterday", "release": "x"},
        queryset=Incident.objects.all(),
    )
    assert not filterset.is_valid()
    assert set(filterset.errors) == {"environment", "severity", "started_from", "release"}


def test_slugs_that_name_nothing_match_nothing_and_the_rest_still_match(prod):
    incident = IncidentFactory(environment=prod)

    def refs(data):
        filterset = IncidentFilter(data, queryset=Incident.objects.all())
        assert filterset.is_valid(), filterset.errors
        return {row.reference for row in filterset.qs}

    assert refs({"environment": ["moon"]}) == set()
    assert refs({"environment": ["moon", "prod"]}) == {incident.reference}
    assert refs({"release": "123456"}) == set()
    assert refs({"environment": ["", "prod"]}) == {incident.reference}
    assert refs({"cause": ["no-such-cause"]}) == set()
    # The web list's pickers still offer the existing values.
    choices = dict(IncidentFilter({}, queryset=Incident.objects.all()).form.fields["environment"].choices)
    assert {"dev", "staging", "prod"} <= set(choices)


def test_suspect_releases_are_live_deployments_of_the_services_in_the_window(prod, staging, service, settings):
    settings.SUSPECT_RELEASE_WINDOW_HOURS = 24
    start = timezone.now()
    incident = IncidentFactory(environment=prod, started_at=start, services=[service])
    recent = DeploymentFactory(release=ReleaseFactory(service=service, version="2.0"), environment=prod,
                               deployed_at=start - dt.timedelta(hours=2)).release  # fmt: skip
    rolled_back = DeploymentFactory(release=ReleaseFactory(service=service, version="1.9"), environment=prod,
                                    status="rolled_back", deployed_at=start - dt.timedelta(hours=20)).release  # fmt: skip
    DeploymentFactory(release=ReleaseFactory(service=service, version="1.8"), environment=prod,
                      deployed_at=start - dt.timedelta(hours=30))  # too old  # fmt: skip
    DeploymentFactory(release=ReleaseFactory(service=service, version="2.1"), environment=prod, status="failed",
                      deployed_at=start - dt.timedelta(hours=1))  # never went live  # fmt: skip
    DeploymentFactory(release=ReleaseFactory(service=service, version="2.2"), environment=staging,
                      deployed_at=start - dt.timedelta(hours=1))  # another environment  # fmt: skip
    DeploymentFactory(release=ReleaseFactory(version="9.0"), environment=prod,
                      deployed_at=start - dt.timedelta(hours=1))  # another service  # fmt: skip
    DeploymentFactory(release=recent, environment=prod, status="failed", deployed_at=start - dt.timedelta(hours=3))
    suspects = list(suspect_releases(incident=incident))
    assert suspects == [recent, rolled_back]
    assert suspects[0].last_deployed_at == start - dt.timedelta(hours=2)
    settings.SUSPECT_RELEASE_WINDOW_HOURS = 3
    assert list(suspect_releases(incident=incident)) == [recent]


@pytest.mark.parametrize(
    "params",
    [
        {"started_from": "0001-01-01"},
        {"started_to": "0001-01-01"},
        {"started_from": "9999-12-31", "started_to": "9999-12-31"},
        {"release": "99999999999999999999999"},
        {"release": "1.5"},
    ],
)
def test_extreme_values_filter_without_failing(params, settings):
    settings.TIME_ZONE = "Pacific/Kiritimati"  # UTC+14: the far ends of the calendar move past the limits
    with timezone.override("Pacific/Kiritimati"):
        IncidentFactory()
        filterset = IncidentFilter(params, queryset=Incident.objects.all())
        if filterset.is_valid():
            assert filterset.qs.count() in (0, 1)
        else:
            assert set(filterset.errors) <= set(params)
