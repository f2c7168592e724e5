"""Golden numbers: every metric of the hand-built data set (conftest.golden) checked by value.

The same expectations run on SQLite (`make test`) and on PostgreSQL (.ci/run's second stage), so both
databases are proven to give the same report.
"""

from __future__ import annotations

import pytest

from incidents.selectors.reports import report_data
from incidents.weeks import Week
from tests.reports.conftest import REPORT_WEEK

pytestmark = pytest.mark.django_db

WEEKS = [f"2025-W{n}" for n in range(41, 53)] + ["2026-W01"]
Z = [0] * 13


def series(**at_index: int) -> list[int]:
    values = list(Z)
    for index, value in at_index.items():
        values[int(index.removeprefix("i"))] = value
    return values


def expected_organisation(golden) -> dict:
    return {
        "week": "2026-W01",
        "scope": "organisation",
        "audience": "everyone",
        "weeks": WEEKS,
        "counts": {
            # P2 (sev3) in W41; X4 (sev4) in W52; I1, I5 (sev1) and I2, I3, I4 (sev2) this week.
            "incidents": {
                "sev1": series(i12=2),
                "sev2": series(i12=3),
                "sev3": series(i0=1),
                "sev4": series(i11=1),
            },
            # One platform near-miss a week W41..W51, P3 in W50, and N1, N2, N3 this week (X2 is dismissed).
            "near_misses": [1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 0, 3],
            "near_miss_share": [0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.375],
        },
        "causes": {
            "per_week": {
                "config-drift": [1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 1, 2],
                "missing-check": series(i0=1, i12=4),
                "weak-monitoring": series(i12=1),
            },
            "top": [
                {"cause": "missing-check", "count": 4},
                {"cause": "config-drift", "count": 2},
                {"cause": "weak-monitoring", "count": 1},
            ],
            # missing-check: 4 ≥ 2 x 1/12. config-drift: 2 < 2 x 13/12. weak-monitoring: only 1.
            "rising": ["missing-check"],
        },
        "environments": {"caught_in": {"dev": 1, "staging": 2, "prod": 4}, "escape_rate": round(4 / 7, 4)},
        "deployments": {
            # D1..D7 (D8 is the Sunday before in Paris). Succeeded in prod: D1 (R1, named by I1), D2 (R2, named
            # only by a near-miss) and D3 (R3, named only by an incident in triage).
            "per_environment": {"dev": 1, "staging": 1, "prod": 5},
            "change_failure_rate": round(1 / 3, 4),
            "rollbacks": 2,
            "rollbacks_rehearsed": 1,
        },
        "durations": {
            # Detect: SEV1 600 s (I1), 1200 s (I5); SEV2 1800 s (I2), 300 s (I3), 5400 s (I4).
            # Restore: SEV1 3600 s (I1; I5 has neither time); SEV2 14400 s (I2, resolved), 1200 s, 6000 s.
            "time_to_detect": {
                "sev1": {"median": 600, "p90": 1200},
                "sev2": {"median": 1800, "p90": 5400},
                "sev3": {"median": None, "p90": None},
                "sev4": {"median": None, "p90": None},
            },
            "time_to_restore": {
                "sev1": {"median": 3600, "p90": 3600},
                "sev2": {"median": 6000, "p90": 14400},
                "sev3": {"median": None, "p90": None},
                "sev4": {"median": None, "p90": None},
            },
        },
        # Opened A3, A4, A5, A8 (A6 belongs to an item in triage); closed A2, A8; overdue A3, A5; unowned A3.
        "action_items": {"opened": 4, "closed": 2, "overdue": 2, "unowned": 1},
        "caught_by": {
            "automated_check": 1,
            "monitoring_alert": 2,
            "code_review": 1,
            "manual_testing": 0,
            "customer_report": 1,
            "luck": 2,
        },
        "repeat_offenders": {
            "services": [{"service": "checkout-api", "count": 3}, {"service": "ledger", "count": 2}],
            "causes": [{"cause": "missing-check", "count": 4}, {"cause": "config-drift", "count": 2}],
        },
        # I3 is not listed: A2 was completed after I3 started. I4's auth never had a missing-check fix.
        "fixes_not_sticking": [
            {
                "number": golden["I1"].reference,
                "cause": "missing-check",
                "service": "checkout-api",
                "action_item": golden["A1"].pk,
            },
            {
                "number": golden["I2"].reference,
                "cause": "missing-check",
                "service": "checkout-api",
                "action_item": golden["A1"].pk,
            },
            {
                "number": golden["N1"].reference,
                "cause": "missing-check",
                "service": "checkout-api",
                "action_item": golden["A1"].pk,
            },
            {
                "number": golden["N2"].reference,
                "cause": "config-drift",
                "service": "ledger",
                "action_item": golden["A2"].pk,
            },
        ],
        "gate_gaps": {
            "config-drift": {"staging": 1},
            "missing-check": {"ci": 3, "review": 1},
            "weak-monitoring": {"prod-monitoring": 1},
        },
        "archive_pick": {
            "number": golden["ARCH1"].reference,
            "title": "Checkout outage without an alert",
            "url": f"http://127.0.0.1:8000/incidents/{golden['ARCH1'].reference}/",
        },
    }


def without_generated_at(data: dict) -> dict:
    assert data.pop("generated_at").startswith("2026-01-10T")
    return data


def test_organisation_report_has_the_golden_numbers(golden, settings):
    settings.SITE_URL = "http://127.0.0.1:8000"
    data = without_generated_at(report_data(week=Week.parse(REPORT_WEEK), team=None, audience="everyone"))
    assert data == expected_organisation(golden)


def test_without_confidential_near_misses_both_audiences_have_the_golden_numbers(golden, settings):
    settings.SITE_URL = "http://127.0.0.1:8000"
    data = without_generated_at(report_data(week=Week.parse(REPORT_WEEK), team=None, audience="confidential"))
    assert data.pop("confidential_near_misses") == {"week": 0, "window": 0}
    assert data == {**expected_organisation(golden), "audience": "confidential"}


def test_team_report_counts_only_that_teams_items(golden, team, settings):
    settings.SITE_URL = "http://127.0.0.1:8000"
    data = without_generated_at(report_data(week=Week.parse(REPORT_WEEK), team=team))
    assert data["scope"] == "team:payments"
    assert data["counts"] == {
        "incidents": {"sev1": series(i12=1), "sev2": series(i12=2), "sev3": series(i0=1), "sev4": series(i11=1)},
        "near_misses": series(i9=1, i12=3),
        "near_miss_share": [0.0] + [None] * 8 + [1.0, None, 0.0, 0.5],
    }
    # Without the platform team's weekly config-drift near-misses, config-drift rises here: 2 ≥ 2 x 2/12.
    assert data["causes"]["per_week"]["config-drift"] == series(i9=1, i11=1, i12=2)
    assert data["causes"]["rising"] == ["missing-check", "config-drift"]
    assert data["environments"] == {"caught_in": {"dev": 1, "staging": 2, "prod": 2}, "escape_rate": 0.4}
    # The payments team owns checkout-api: D1, D2, D4, D5.
    assert data["deployments"] == {
        "per_environment": {"dev": 0, "staging": 1, "prod": 3},
        "change_failure_rate": 0.5,
        "rollbacks": 1,
        "rollbacks_rehearsed": 1,
    }
    assert data["durations"]["time_to_detect"]["sev1"] == {"median": 600, "p90": 600}
    assert data["durations"]["time_to_restore"]["sev2"] == {"median": 1200, "p90": 14400}
    assert data["action_items"] == {"opened": 3, "closed": 1, "overdue": 2, "unowned": 1}
    assert [row["number"] for row in data["fixes_not_sticking"]] == [
        golden[name].reference for name in ("I1", "I2", "N1", "N2")
    ]
    assert data["archive_pick"]["number"] == golden["ARCH1"].reference


def test_platform_report_picks_the_most_recent_archive_item_on_a_tie(golden, other_team):
    data = report_data(week=Week.parse(REPORT_WEEK), team=other_team)
    assert data["counts"]["incidents"]["sev1"][-1] == 1 and data["counts"]["incidents"]["sev2"][-1] == 1
    assert data["caught_by"]["luck"] == 1
    assert data["fixes_not_sticking"] == []
    assert data["action_items"] == {"opened": 1, "closed": 1, "overdue": 0, "unowned": 0}
    assert data["archive_pick"]["number"] == golden["ARCH2"].reference


def test_quiet_team_gets_nulls_and_a_postmortem_from_a_year_ago(golden):
    data = report_data(week=Week.parse(REPORT_WEEK), team=golden["growth"])
    assert data["counts"]["near_miss_share"] == [None] * 13
    assert data["causes"] == {"per_week": {}, "top": [], "rising": []}
    assert data["environments"]["escape_rate"] is None
    assert data["deployments"]["change_failure_rate"] is None
    assert data["durations"]["time_to_restore"]["sev1"] == {"median": None, "p90": None}
    assert data["archive_pick"]["number"] == golden["ANNIV"].reference
    assert data["archive_pick"]["title"] == "New year certificate expiry"
