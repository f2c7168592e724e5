"""A hand-built organisation whose weekly report is known number by number (the golden data set).

The report week is 2026-W01 (Monday 29 December 2025 to Monday 5 January 2026) in Europe/Paris, so the
13-week window (2025-W41 .. 2026-W01) crosses a year boundary and items an hour either side of a local
midnight land in the right week. tests/reports/test_golden.py lists every expected number and why.
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from incidents.models import ActionItem, Deployment, Incident, IncidentCause, Membership
from tests.factories import (
    ActionItemFactory,
    DeploymentFactory,
    IncidentFactory,
    MembershipFactory,
    NearMissFactory,
    ReleaseFactory,
    ServiceFactory,
    TeamFactory,
    UserFactory,
    environment,
)

UTC = dt.UTC
REPORT_WEEK = "2026-W01"


def at(text: str) -> dt.datetime:
    """A UTC instant from 'YYYY-MM-DD HH:MM'."""
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)


def minutes(start: dt.datetime, count: int) -> dt.datetime:
    return start + dt.timedelta(minutes=count)


def tag(item: Incident, *causes: tuple[str, str]) -> Incident:
    from tests.factories import cause

    for slug, gate in causes:
        IncidentCause.objects.create(incident=item, cause=cause(slug), gate=gate)
    return item


def action_item(incident: Incident, *, created: str, **fields) -> ActionItem:
    return ActionItemFactory(incident=incident, created_at=at(created), **fields)


@pytest.fixture
def paris(settings):
    settings.TIME_ZONE = "Europe/Paris"
    timezone.deactivate()
    yield
    timezone.deactivate()


@pytest.fixture
def frozen():
    with time_machine.travel(at("2026-01-10 12:00"), tick=False):
        yield


@pytest.fixture
def golden(paris, frozen, team, other_team, lead, reporter, outsider):
    """The golden organisation. Returns its objects by name."""
    growth = TeamFactory(name="Growth", slug="growth")
    checkout = ServiceFactory(name="Checkout API", slug="checkout-api", owner_team=team)
    ledger = ServiceFactory(name="Ledger", slug="ledger", owner_team=team)
    auth = ServiceFactory(name="Auth", slug="auth", owner_team=other_team)
    r1 = ReleaseFactory(service=checkout, version="1.0")
    r2 = ReleaseFactory(service=checkout, version="1.1")
    r3 = ReleaseFactory(service=auth, version="2.0")
    prod, staging, dev = environment("prod"), environment("staging"), environment("dev")
    o = {"growth": growth, "checkout": checkout, "ledger": ledger, "auth": auth}

    # The report week, 2026-W01. I1 starts 00:30 on Monday in Paris (still Sunday 23:30 in UTC).
    i1_start = at("2025-12-28 23:30")
    o["I1"] = tag(
        IncidentFactory(
            team=team, severity="sev1", environment=prod, caught_by="monitoring_alert", started_at=i1_start,
            detected_at=minutes(i1_start, 10), mitigated_at=minutes(i1_start, 60), resolved_at=minutes(i1_start, 120),
            services=[checkout],
        ),
        ("missing-check", "ci"), ("weak-monitoring", "prod-monitoring"),
    )  # fmt: skip
    o["I1"].releases.set([r1])
    i2_start = at("2025-12-30 10:00")
    o["I2"] = tag(
        IncidentFactory(
            team=team, severity="sev2", environment=prod, caught_by="customer_report", started_at=i2_start,
            detected_at=minutes(i2_start, 30), resolved_at=minutes(i2_start, 240), services=[checkout],
        ),
        ("missing-check", "ci"),
    )  # fmt: skip
    i3_start = at("2025-12-31 12:00")
    o["I3"] = tag(
        IncidentFactory(
            team=team, severity="sev2", environment=staging, caught_by="automated_check", started_at=i3_start,
            detected_at=minutes(i3_start, 5), mitigated_at=minutes(i3_start, 20), services=[ledger],
        ),
        ("config-drift", "staging"),
    )  # fmt: skip
    i4_start = at("2026-01-02 08:00")
    o["I4"] = tag(
        IncidentFactory(
            team=other_team, severity="sev2", environment=prod, caught_by="luck", started_at=i4_start,
            detected_at=minutes(i4_start, 90), mitigated_at=minutes(i4_start, 100), services=[auth],
        ),
        ("missing-check", "review"),
    )  # fmt: skip
    i5_start = at("2026-01-03 02:00")
    o["I5"] = IncidentFactory(
        team=other_team, severity="sev1", environment=prod, caught_by="monitoring_alert", started_at=i5_start,
        detected_at=minutes(i5_start, 20),
    )  # fmt: skip
    o["N1"] = tag(
        NearMissFactory(
            team=team, severity="sev3", environment=staging, caught_by="code_review",
            started_at=at("2026-01-01 09:00"), services=[checkout],
        ),
        ("missing-check", "ci"),
    )  # fmt: skip
    o["N1"].releases.set([r2])
    o["N2"] = tag(
        NearMissFactory(
            team=team, severity="sev4", environment=dev, caught_by="luck", started_at=at("2026-01-03 15:00"),
            services=[ledger],
        ),
        ("config-drift", ""),
    )  # fmt: skip
    # Sunday 21:00 in Paris: still the report week. Caught somewhere nobody recorded.
    o["N3"] = NearMissFactory(team=team, environment=None, caught_by="", started_at=at("2026-01-04 20:00"))

    # Left out: in triage, dismissed, and Monday 00:30 of the next week in Paris (Sunday 23:30 UTC).
    o["X1"] = IncidentFactory(
        team=other_team, severity="sev1", status="triage", environment=prod, started_at=at("2025-12-30 06:00")
    )
    o["X1"].releases.set([r3])
    o["X2"] = NearMissFactory(team=team, status="dismissed", started_at=at("2025-12-31 06:00"))
    o["X3"] = IncidentFactory(team=team, severity="sev3", environment=prod, started_at=at("2026-01-04 23:30"))
    # Sunday 23:30 in Paris: the week before (2025-W52), although Monday in UTC+14 would disagree.
    o["X4"] = tag(
        IncidentFactory(team=team, severity="sev4", environment=prod, started_at=at("2025-12-28 22:30")),
        ("config-drift", "staging"),
    )

    # Earlier weeks: P2 in 2025-W41 (the window's first week), P3 in 2025-W50, and a config-drift near-miss of
    # the platform team in each week from 2025-W41 to 2025-W51.
    o["P2"] = tag(
        IncidentFactory(team=team, severity="sev3", started_at=at("2025-10-07 10:00"), services=[checkout]),
        ("missing-check", "ci"),
    )
    o["P3"] = tag(
        NearMissFactory(team=team, severity="sev3", started_at=at("2025-12-09 10:00"), services=[ledger]),
        ("config-drift", "staging"),
    )
    for week in range(11):
        tag(
            NearMissFactory(
                team=other_team, severity="sev4", environment=dev, caught_by="automated_check",
                started_at=at("2025-10-08 12:00") + dt.timedelta(weeks=week),
            ),
            ("config-drift", "ci"),
        )  # fmt: skip

    # The archive: before the window. ARCH1 shares two of this week's causes, ARCH2 one; ANNIV is a year old.
    o["ARCH1"] = tag(
        IncidentFactory(team=team, title="Checkout outage without an alert", started_at=at("2025-06-01 10:00")),
        ("missing-check", "ci"), ("weak-monitoring", ""),
    )  # fmt: skip
    o["ARCH2"] = tag(
        IncidentFactory(team=other_team, title="Login outage", started_at=at("2025-07-01 10:00")),
        ("missing-check", ""),
    )
    o["ANNIV"] = tag(
        IncidentFactory(
            team=team, title="New year certificate expiry", severity="sev2", started_at=at("2024-12-31 10:00")
        ),
        ("documentation-gap", ""),
    )
    IncidentFactory(
        team=team,
        title="Draft from a year ago",
        severity="sev1",
        status="draft",
        started_at=at("2024-12-31 11:00"),
    )
    IncidentFactory(
        team=team, title="Minor one from a year ago", severity="sev3", started_at=at("2024-12-30 11:00")
    )

    # Deployments of the week (D8 is Sunday 23:00 in Paris: the week before).
    deployments = [
        ("D1", r1, prod, Deployment.Status.SUCCEEDED, "2025-12-29 09:00", False),
        ("D2", r2, prod, Deployment.Status.SUCCEEDED, "2025-12-30 09:00", False),
        ("D3", r3, prod, Deployment.Status.SUCCEEDED, "2026-01-02 07:00", False),
        ("D4", r2, staging, Deployment.Status.SUCCEEDED, "2025-12-29 10:00", False),
        ("D5", r2, prod, Deployment.Status.ROLLED_BACK, "2025-12-31 10:00", True),
        ("D6", r3, dev, Deployment.Status.FAILED, "2026-01-01 10:00", False),
        ("D7", r3, prod, Deployment.Status.ROLLED_BACK, "2026-01-03 10:00", False),
        ("D8", r1, prod, Deployment.Status.SUCCEEDED, "2025-12-28 22:00", False),
    ]
    for name, release, env, status, when, rehearsed in deployments:
        o[name] = DeploymentFactory(
            release=release, environment=env, status=status, deployed_at=at(when), rollback_rehearsed=rehearsed
        )

    # Action items.
    missing_check, config_drift = (
        o["I1"].incident_causes.get(cause__slug="missing-check").cause,
        o["I3"].causes.get(),
    )
    o["A1"] = action_item(
        o["P2"], created="2025-10-08 09:00", owner=lead, cause=missing_check, status="done",
        completed_at=at("2025-10-20 09:00"),
    )  # fmt: skip
    o["A2"] = action_item(
        o["P3"], created="2025-12-10 09:00", team=team, cause=config_drift, status="done",
        completed_at=at("2026-01-02 12:00"),
    )  # fmt: skip
    o["A3"] = action_item(o["I1"], created="2025-12-29 12:00", due_date=dt.date(2026, 1, 2))
    o["A4"] = action_item(o["I2"], created="2025-12-30 12:00", owner=reporter, due_date=dt.date(2026, 1, 5))
    o["A5"] = action_item(
        o["I3"], created="2025-12-31 13:00", team=team, due_date=dt.date(2025, 12, 31), status="done",
        completed_at=at("2026-01-06 09:00"),
    )  # fmt: skip
    o["A6"] = action_item(o["X1"], created="2025-12-30 12:00", due_date=dt.date(2025, 12, 31))
    o["A7"] = action_item(o["I4"], created="2026-01-07 12:00", owner=outsider, due_date=dt.date(2026, 1, 1))
    o["A8"] = action_item(
        o["I4"], created="2026-01-02 09:00", owner=outsider, status="wont_do", completed_at=at("2026-01-03 09:00"),
        due_date=None,
    )  # fmt: skip
    return o


@pytest.fixture
def digest_reader(team):
    """A member who is not a lead and has asked for the digest."""
    user = UserFactory(username="dina")
    MembershipFactory(user=user, team=team, role=Membership.Role.MEMBER)
    return user
