"""Each database constraint rejects bad data, whichever door it comes through (here: the ORM, unvalidated)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from incidents.models import (
    ActionItem,
    Cause,
    Deployment,
    Environment,
    Incident,
    IncidentCause,
    Release,
    TrendReport,
)
from tests.factories import (
    ActionItemFactory,
    DeploymentFactory,
    IncidentFactory,
    NearMissFactory,
    ReleaseFactory,
    TeamFactory,
)

pytestmark = pytest.mark.django_db


def rejected(callable_, *args, **kwargs):
    with pytest.raises(IntegrityError), transaction.atomic():
        callable_(*args, **kwargs)


def test_migration_seeds_environments_with_mandates_and_the_cause_taxonomy():
    environments = list(Environment.objects.values_list("slug", "kind"))
    assert environments == [("dev", "development"), ("staging", "staging"), ("prod", "production")]
    assert all(Environment.objects.values_list("mandate", flat=True))
    expected = {
        "missing-check", "unclear-ownership", "weak-monitoring", "config-drift", "environment-parity-gap",
        "secret-handling", "untested-rollback", "manual-change", "unsafe-data-handling", "capacity-limit",
        "dependency-failure", "alert-fatigue", "documentation-gap",
    }  # fmt: skip
    assert expected <= set(Cause.objects.values_list("slug", flat=True))
    assert not Cause.objects.filter(description="").exists()


@pytest.mark.parametrize("field", ["detected_at", "mitigated_at", "resolved_at"])
def test_times_before_the_start_are_rejected(field):
    incident = IncidentFactory()
    rejected(
        Incident.objects.filter(pk=incident.pk).update, **{field: incident.started_at - dt.timedelta(seconds=1)}
    )


def test_resolved_before_mitigated_is_rejected():
    incident = IncidentFactory()
    later = incident.started_at + dt.timedelta(hours=2)
    rejected(
        Incident.objects.filter(pk=incident.pk).update,
        mitigated_at=later,
        resolved_at=later - dt.timedelta(minutes=1),
    )


def test_times_in_order_are_accepted():
    incident = IncidentFactory()
    start = incident.started_at
    Incident.objects.filter(pk=incident.pk).update(
        detected_at=start, mitigated_at=start + dt.timedelta(hours=1), resolved_at=start + dt.timedelta(hours=2)
    )
    incident.refresh_from_db()
    assert incident.resolved_at - incident.started_at == dt.timedelta(hours=2)


def test_numbers_are_unique_per_kind_but_shared_across_kinds():
    incident = IncidentFactory()
    near_miss = NearMissFactory(number=incident.number)
    assert (incident.reference, near_miss.reference) == (f"INC-{incident.number}", f"NM-{incident.number}")
    rejected(IncidentFactory, number=incident.number)


def test_source_and_external_id_are_unique_when_external_id_is_set():
    IncidentFactory(source="alertmanager", external_id="abc")
    rejected(IncidentFactory, source="alertmanager", external_id="abc")
    IncidentFactory(source="github", external_id="abc")
    IncidentFactory(source="web", external_id="")
    IncidentFactory(source="web", external_id="")
    assert Incident.objects.filter(external_id="abc").count() == 2


@pytest.mark.parametrize(
    ("field", "value"),
    [("kind", "outage"), ("status", "closed"), ("severity", "sev5"), ("caught_by", "psychic")],
)
def test_values_outside_the_choices_are_rejected(field, value):
    incident = IncidentFactory()
    rejected(Incident.objects.filter(pk=incident.pk).update, **{field: value})


def test_only_near_misses_can_be_confidential():
    rejected(IncidentFactory, confidential=True)
    assert NearMissFactory(confidential=True).confidential


def test_release_versions_are_unique_per_service():
    release = ReleaseFactory(version="2.0.0")
    rejected(ReleaseFactory, service=release.service, version="2.0.0")
    assert ReleaseFactory(version="2.0.0").service != release.service


def test_deployment_external_ids_are_unique_per_source_and_status_is_checked():
    DeploymentFactory(source="github", external_id="42")
    rejected(DeploymentFactory, source="github", external_id="42")
    rejected(DeploymentFactory, status="exploded")


def test_a_cause_is_never_deleted_once_used():
    incident = IncidentFactory(causes=["config-drift"])
    used = Cause.objects.get(slug="config-drift")
    with pytest.raises(Exception, match="protected"), transaction.atomic():
        used.delete()
    assert IncidentCause.objects.filter(incident=incident, cause=used).exists()


def test_a_cause_is_attached_once_per_incident():
    incident = IncidentFactory(causes=["config-drift"])
    rejected(IncidentCause.objects.create, incident=incident, cause=Cause.objects.get(slug="config-drift"))


def test_action_item_completion_time_matches_its_status():
    item = ActionItemFactory()
    rejected(ActionItem.objects.filter(pk=item.pk).update, status=ActionItem.Status.DONE)
    rejected(ActionItem.objects.filter(pk=item.pk).update, completed_at=item.created_at)
    ActionItem.objects.filter(pk=item.pk).update(status=ActionItem.Status.DONE, completed_at=item.created_at)
    assert ActionItem.objects.get(pk=item.pk).status == ActionItem.Status.DONE


def test_one_report_per_week_scope_and_audience_and_the_scope_matches_the_team():
    monday = dt.date(2026, 11, 16)
    TrendReport.objects.create(week_start=monday, scope=TrendReport.ORGANISATION)
    rejected(TrendReport.objects.create, week_start=monday, scope=TrendReport.ORGANISATION)
    TrendReport.objects.create(week_start=monday, scope=TrendReport.ORGANISATION, audience="confidential")
    rejected(
        TrendReport.objects.create, week_start=monday, scope=TrendReport.ORGANISATION, audience="confidential"
    )
    rejected(TrendReport.objects.create, week_start=dt.date(2026, 11, 9), scope="organisation", audience="leads")
    rejected(TrendReport.objects.create, week_start=monday, scope="team:payments")
    team = TeamFactory(slug="payments")
    report = TrendReport.objects.create(week_start=monday, scope="team:payments", team=team)
    assert report.week_label == "2026-W47"


def test_report_weeks_start_on_monday():
    report = TrendReport(week_start=dt.date(2026, 11, 17), scope=TrendReport.ORGANISATION)
    with pytest.raises(ValidationError, match="Monday"):
        report.full_clean()


def test_week_label_is_the_iso_week_at_year_boundaries():
    assert TrendReport(week_start=dt.date(2020, 12, 28)).week_label == "2020-W53"
    assert TrendReport(week_start=dt.date(2024, 12, 30)).week_label == "2025-W01"


def test_gates_must_map_names_to_known_results():
    deployment = Deployment(gates={"unit-tests": "maybe"})
    with pytest.raises(ValidationError, match="expected passed, failed or skipped"):
        deployment.full_clean(exclude=["release", "environment", "status"])
    assert Release.objects.count() == 0
