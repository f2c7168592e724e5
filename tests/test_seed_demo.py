"""seed_demo: deterministic, realistic in shape, and safe to run twice."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
import time_machine
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.db import transaction
from django.db.models import Count, Q
from django.test import RequestFactory

from incidents.models import (
    ActionItem,
    ConfidentialReporter,
    Deployment,
    Environment,
    Incident,
    IncidentCause,
    Release,
    Service,
    Team,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen_now():
    with time_machine.travel(dt.datetime(2026, 11, 26, 9, 30, tzinfo=dt.UTC), tick=False):
        yield


def seed(**options) -> str:
    out = StringIO()
    # No trend reports by default: these tests are about the items (tests/reports/test_report_navigation.py
    # covers the reports seed_demo generates).
    arguments = {"incidents": 600, "weeks": 8, "seed": 7, "report_weeks": 0} | options
    call_command(
        "seed_demo", *[f"--{key.replace('_', '-')}={value}" for key, value in arguments.items()], stdout=out
    )
    return out.getvalue()


def snapshot() -> list[tuple]:
    """Everything about the incidents and releases, without database ids."""
    incidents = Incident.objects.order_by("kind", "confidential", "number").values_list(
        "kind", "number", "title", "team__slug", "status", "severity", "environment__slug", "caught_by",
        "started_at", "detected_at", "mitigated_at", "resolved_at", "confidential", "reporter__username",
    )  # fmt: skip
    causes = IncidentCause.objects.order_by(
        "incident__kind", "incident__confidential", "incident__number", "cause__slug"
    ).values_list("incident__number", "cause__slug", "gate")
    releases = Release.objects.order_by("service__slug", "version").values_list(
        "service__slug", "version", "commit_sha", "created_at"
    )
    deployments = Deployment.objects.order_by(
        "release__service__slug", "release__version", "environment__promotion_order"
    )
    items = ActionItem.objects.order_by(
        "incident__kind", "incident__confidential", "incident__number", "title", "due_date"
    )
    return [
        *incidents, *causes, *releases,
        *deployments.values_list("release__version", "environment__slug", "status", "gates", "deployed_at"),
        # Rows, not their order: two items of one incident may tie on every ordered column.
        *sorted(
            items.values_list("incident__number", "title", "owner__username", "due_date", "status", "completed_at"),
            key=repr,
        ),
    ]  # fmt: skip


def seeded_twice(seed_a: int, seed_b: int) -> tuple[list, list]:
    snapshots = []
    for seed_value in (seed_a, seed_b):
        with transaction.atomic():
            seed(seed=seed_value)
            snapshots.append(snapshot())
            transaction.set_rollback(True)
    return snapshots[0], snapshots[1]


def test_same_seed_gives_the_same_data():
    first, second = seeded_twice(7, 7)
    assert len(first) > 1000
    assert first == second


def test_another_seed_gives_other_data():
    first, second = seeded_twice(7, 8)
    assert first != second


def test_second_run_adds_incidents_without_duplicating_base_data():
    seed()
    base = (Team.objects.count(), Service.objects.count(), Environment.objects.count())
    numbers = set(Incident.objects.values_list("kind", "number"))
    seed(seed=9)
    assert (Team.objects.count(), Service.objects.count(), Environment.objects.count()) == base
    assert Incident.objects.count() == 1200
    assert numbers < set(Incident.objects.values_list("kind", "number"))


def test_if_empty_skips_a_loaded_database_and_prints_the_login():
    seed()
    out = StringIO()
    call_command("seed_demo", "--if-empty", "--report-weeks=0", stdout=out)
    assert "already loaded" in out.getvalue()
    assert "Demo login: demo / demo" in out.getvalue()
    assert Incident.objects.count() == 600


def test_demo_login_works_and_demo_is_a_lead():
    assert "Demo login: demo / demo" in seed()
    user = authenticate(RequestFactory().post("/accounts/login/"), username="demo", password="demo")
    assert user is not None and user.is_superuser
    assert user.memberships.get().role == "lead"


def test_the_shape_is_realistic():
    seed(incidents=3000, weeks=12)
    counted = Incident.objects.counted()
    near_misses_caught_early = counted.near_misses().exclude(environment__slug="prod").count()
    incidents_in_prod = counted.incidents().filter(environment__slug="prod").count()
    assert near_misses_caught_early > incidents_in_prod
    assert Service.objects.filter(owner_team__isnull=True).exists()
    assert Service.objects.filter(owner_team__isnull=False).exists()
    assert Team.objects.count() >= 4

    # Releases travel dev → staging → prod in that order, with gates, and some are rolled back.
    release = Release.objects.annotate(n=Count("deployments")).filter(n=3).first()
    path = list(release.deployments.order_by("deployed_at").values_list("environment__slug", flat=True))
    assert path == ["dev", "staging", "prod"]
    assert Deployment.objects.filter(status="rolled_back").exists()
    assert Deployment.objects.exclude(gates={}).count() == Deployment.objects.count()

    # Causes are skewed: the most common cause is several times as frequent as the rarest ones.
    per_cause = dict(IncidentCause.objects.values_list("cause__slug").annotate(n=Count("id")))
    assert per_cause["missing-check"] > 5 * per_cause.get("unsafe-data-handling", 0)

    overdue = ActionItem.objects.filter(status="open", due_date__lt=dt.date(2026, 11, 26))
    assert overdue.exists()
    assert ActionItem.objects.filter(status="done").exists()
    assert Incident.objects.filter(confidential=True, reporter__isnull=True).exists()
    assert ConfidentialReporter.objects.count() == Incident.objects.filter(confidential=True).count()
    assert Incident.objects.filter(Q(kind="incident") & ~Q(body_html="")).exists()


def test_bad_arguments_are_refused():
    with pytest.raises(CommandError, match="--weeks"):
        call_command("seed_demo", "--weeks=0")
    with pytest.raises(CommandError, match="--incidents"):
        call_command("seed_demo", "--incidents=-5")
    with pytest.raises(CommandError, match="--report-weeks"):
        call_command("seed_demo", "--report-weeks=27")
