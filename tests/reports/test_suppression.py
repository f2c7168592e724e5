"""Report cells that count a confidential near-miss are suppressed below REPORT_MIN_CELL_SIZE items.

Two near-misses of the payments team in one week, one of them confidential: every breakdown cell holding the
confidential one with fewer than 3 items is null, shown as "too few to show" without a link, and left out of
lists; cells without it, or with enough items, keep their numbers.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from incidents.models import ConfidentialReporter, IncidentCause
from incidents.reports.selectors import report_data
from incidents.reports.services import report_generate
from incidents.reports.summary import SUPPRESSED, summarise
from incidents.reports.tables import report_csv_rows
from incidents.reports.weeks import Week
from tests.factories import ActionItemFactory, IncidentFactory, NearMissFactory, cause, environment

pytestmark = pytest.mark.django_db

WEEK = Week.parse("2026-W20")
STARTED = dt.datetime(2026, 5, 12, 10, tzinfo=dt.UTC)  # a Tuesday of 2026-W20


@pytest.fixture
def week_items(team, reporter, service):
    secret = NearMissFactory(team=team, confidential=True, started_at=STARTED, caught_by="luck",
                             environment=environment("staging"), services=[service])  # fmt: skip
    ConfidentialReporter.objects.create(incident=secret, user=reporter, receipt_hash="c" * 64)
    IncidentCause.objects.create(incident=secret, cause=cause("unsafe-data-handling"), gate="review")
    ordinary = NearMissFactory(team=team, started_at=STARTED, caught_by="code_review",
                               environment=environment("staging"), services=[service])  # fmt: skip
    IncidentCause.objects.create(incident=ordinary, cause=cause("unsafe-data-handling"), gate="review")
    ActionItemFactory(incident=secret, created_at=STARTED + dt.timedelta(hours=1))
    for _ in range(3):  # incidents are never confidential: their cells always show
        IncidentFactory(team=team, started_at=STARTED, caught_by="monitoring_alert", severity="sev3")
    return secret, ordinary


def test_small_cells_holding_a_confidential_near_miss_are_null(week_items, team, settings):
    settings.REPORT_MIN_CELL_SIZE = 3
    for scope in (team, None):
        data = report_data(week=WEEK, team=scope)
        assert data["min_cell_size"] == 3
        assert data["counts"]["near_misses"][-1] is None  # 2 near-misses, one confidential
        assert data["counts"]["near_miss_share"][-1] is None  # would give the count back
        assert data["counts"]["incidents"]["sev3"][-1] == 3
        assert data["causes"]["per_week"]["unsafe-data-handling"][-1] is None
        assert "unsafe-data-handling" not in [row["cause"] for row in data["causes"]["top"]]
        assert data["caught_by"]["luck"] is None
        assert data["caught_by"]["code_review"] == 1  # no confidential item in it
        assert data["caught_by"]["monitoring_alert"] == 3
        assert data["environments"]["caught_in"]["staging"] is None
        assert data["environments"]["caught_in"]["prod"] == 3
        assert data["environments"]["escape_rate"] == 0.6  # 5 items: large enough
        assert data["gate_gaps"]["unsafe-data-handling"]["review"] is None
        assert data["action_items"]["opened"] is None
        assert [row["cause"] for row in data["repeat_offenders"]["causes"]] == []


def test_cells_large_enough_keep_their_numbers(week_items, team, settings):
    settings.REPORT_MIN_CELL_SIZE = 2
    data = report_data(week=WEEK, team=team)
    assert data["counts"]["near_misses"][-1] == 2
    assert data["causes"]["per_week"]["unsafe-data-handling"][-1] == 2
    assert data["caught_by"]["luck"] is None  # a cell of one confidential item stays hidden
    assert data["repeat_offenders"]["causes"] == [{"cause": "unsafe-data-handling", "count": 2}]


def test_suppressed_cells_show_no_number_and_no_link(week_items, team, reporter, client, settings):
    settings.REPORT_MIN_CELL_SIZE = 3
    report = report_generate(week=WEEK, team=team)
    client.force_login(reporter)
    page = client.get(reverse("reports:report_detail", args=[WEEK.label, f"team:{team.slug}"])).content.decode()
    assert SUPPRESSED in page
    assert "caught_by=luck" not in page.replace("&amp;", "&")
    assert any(row[-1] == "" for row in report_csv_rows(report.data) if row[:2] == ["caught_by", "luck"])
    summary = summarise(report.data)
    assert next(number.value for number in summary.key_numbers if number.label == "Near-misses") == SUPPRESSED
