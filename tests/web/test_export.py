"""The incident list's CSV export: the list's rows for the same query string, every page, bounded and safe."""

from __future__ import annotations

import csv
import io

import pytest

from incidents.models import Incident
from incidents.views import exports
from tests.factories import IncidentFactory, NearMissFactory

pytestmark = pytest.mark.django_db

URL = "/incidents/export.csv"


def rows_of(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="incidents-')
    assert response["Cache-Control"] == "no-store"
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_the_list_links_to_the_export_with_its_query_string(login, reporter, team):
    page = login(reporter).get("/incidents/?kind=near_miss&team=payments&page=2").content.decode()
    assert 'href="/incidents/export.csv?kind=near_miss&amp;team=payments"' in page
    assert "Download CSV" in page


def test_the_export_applies_the_lists_filters_across_pages_with_labels(
    login, reporter, team, other_team, settings
):
    settings.WEB_PAGE_SIZE = 5
    ours = [IncidentFactory(team=team, severity=Incident.Severity.SEV1) for _ in range(7)]
    IncidentFactory(team=other_team, severity=Incident.Severity.SEV1)
    IncidentFactory(team=team, severity=Incident.Severity.SEV3)
    rows = rows_of(login(reporter).get(URL, {"team": "payments", "severity": "sev1"}))
    assert rows[0][:4] == ["Reference", "Title", "Kind", "Status"]
    assert sorted(row[0] for row in rows[1:]) == sorted(item.reference for item in ours)
    assert {row[2] for row in rows[1:]} == {"Incident"} and {row[3] for row in rows[1:]} == {"Published"}
    assert {row[4] for row in rows[1:]} == {"SEV1 (critical)"} and {row[5] for row in rows[1:]} == {"Payments"}


def test_invalid_filters_are_a_400_naming_the_parameter(login, reporter):
    response = login(reporter).get(URL, {"started_from": "yesterday"})
    assert response.status_code == 400 and "started_from" in response.json()["errors"]


def test_an_outsider_does_not_get_another_teams_confidential_near_miss(login, outsider, lead, confidential):
    rows = rows_of(login(outsider).get(URL, {"kind": "near_miss"}))
    assert confidential.reference not in {row[0] for row in rows}
    lead_rows = rows_of(login(lead).get(URL, {"kind": "near_miss"}))
    assert [row[0] for row in lead_rows[1:]] == [confidential.reference]
    assert lead_rows[1][-1] == "Yes"


def test_cells_that_a_spreadsheet_would_run_are_defused(login, reporter, team):
    for title in ('=HYPERLINK("http://evil")', "+1", "-2", "@SUM(A1)", "\tTab", "\rReturn", "Plain"):
        IncidentFactory(team=team, title=title)
    titles = {row[1] for row in rows_of(login(reporter).get(URL))[1:]}
    assert titles == {'\'=HYPERLINK("http://evil")', "'+1", "'-2", "'@SUM(A1)", "'\tTab", "'\rReturn", "Plain"}


def test_the_export_is_cut_at_its_limit_and_says_so(login, reporter, team, monkeypatch):
    monkeypatch.setattr(exports, "EXPORT_MAX_ROWS", 3)
    for _ in range(4):
        IncidentFactory(team=team)
    response = login(reporter).get(URL)
    assert response["X-Hindsight-Truncated"] == "cut at 3 rows"
    rows = rows_of(response)
    assert len(rows) == 1 + 3 + 1 and rows[-1][0].startswith("# Cut at 3 rows")
    monkeypatch.setattr(exports, "EXPORT_MAX_ROWS", 4)
    rows = rows_of(login(reporter).get(URL))
    assert len(rows) == 1 + 4 and not rows[-1][0].startswith("#")


def test_the_export_runs_a_fixed_number_of_queries(login, reporter, team, service, django_assert_max_num_queries):
    client = login(reporter)

    def queries_for_export() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            rows_of(client.get(URL, {"team": "payments"}))
        return len(captured)

    IncidentFactory(team=team, services=[service], causes=["missing-check"])
    few = queries_for_export()
    for _ in range(15):
        IncidentFactory(team=team, services=[service], causes=["missing-check", "config-drift"])
        NearMissFactory(team=team, services=[service])
    assert queries_for_export() == few
    with django_assert_max_num_queries(10):
        rows_of(client.get(URL, {"team": "payments"}))
