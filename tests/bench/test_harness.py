"""The benchmark harness's pieces (bench/), on small data: what `make bench` measures must stay correct.

Timings live in bench/RESULTS.md, never here. Tests that need PostgreSQL skip on SQLite with the reason.
"""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import Resolver404, resolve

from bench import handsql, load
from bench.suite import _comparable, _differences
from incidents.models import ActionItem, Incident, IncidentCause
from incidents.paginators import CappedPaginator
from incidents.search import search_document_sql
from incidents.selectors.reports import report_data
from incidents.weeks import Week
from tests.factories import IncidentFactory, NearMissFactory, TeamFactory
from tests.reports.conftest import REPORT_WEEK, frozen, golden, paris  # noqa: F401 - fixtures for the P1 test

pytestmark = pytest.mark.django_db
needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the hand-written SQL of P1 is PostgreSQL's"
)


# --- The loader ------------------------------------------------------------------------------------------


def test_loader_puts_a_tenth_in_the_recent_year_and_the_rest_before_it_at_the_same_rate(monkeypatch):
    # A shorter "recent history" keeps the weeks (each seeded with releases) few; the shares are the same.
    monkeypatch.setattr(load, "RECENT_WEEKS", 4)
    now = Week.current().start
    recent = load.load_recent(100, now=now)
    older = load.load_older(100, now=now)

    assert (recent.incidents, older.incidents) == (10, 90)
    assert Incident.objects.count() == 100
    boundary = now - dt.timedelta(weeks=load.RECENT_WEEKS)
    assert Incident.objects.filter(started_at__gte=boundary, started_at__lt=now).count() == 10
    oldest = now - dt.timedelta(weeks=10 * load.RECENT_WEEKS)
    assert Incident.objects.filter(started_at__gte=oldest, started_at__lt=boundary).count() == 90


def test_loaded_items_have_seed_demos_shape():
    load.load_recent(400, now=Week.current().start)  # 40 items

    items = Incident.objects.all()
    assert items.count() == 40
    assert not items.filter(services=None).exists()  # each names its service
    assert not items.filter(incident_causes=None).exists()  # and at least one cause
    assert set(items.values_list("kind", flat=True)) == {"incident", "near_miss"}
    assert ActionItem.objects.exists() and IncidentCause.objects.exists()


# --- P1: hand-written SQL against report_data --------------------------------------------------------------


@needs_postgresql
def test_hand_written_sql_gives_the_golden_reports_numbers(golden):  # noqa: F811 - the fixture
    week = Week.parse(REPORT_WEEK)
    differences = _differences(
        _comparable(report_data(week=week, team=None)), _comparable(handsql.report_numbers(week=week))
    )
    assert differences == []


def test_report_comparison_names_the_numbers_that_differ():
    left = {"counts": {"near_misses": [1, 2]}, "generated_at": "now"}
    right = {"counts": {"near_misses": [1, 3]}, "generated_at": "later"}
    assert _differences(_comparable(left), _comparable(right)) == [
        ".counts.near_misses: report_data [1, 2] != hand SQL [1, 3]"
    ]


# --- The capped paginator -----------------------------------------------------------------------------------


@pytest.fixture
def small_cap(monkeypatch):
    monkeypatch.setattr(CappedPaginator, "cap", 5)


def test_paginator_counts_exactly_below_the_cap(small_cap):
    IncidentFactory.create_batch(4)
    paginator = CappedPaginator(Incident.objects.order_by("-started_at", "-id"), 2)
    page = paginator.get_page(1)
    assert (paginator.count, paginator.capped, paginator.num_pages) == (4, False, 2)
    assert len(page.object_list) == 2 and page.has_next()


def test_paginator_stops_counting_past_the_cap_and_keeps_later_pages_reachable(small_cap):
    items = IncidentFactory.create_batch(9)
    newest_first = sorted(items, key=lambda item: (item.started_at, item.pk), reverse=True)
    paginator = CappedPaginator(Incident.objects.order_by("-started_at", "-id"), 2)

    first = paginator.get_page(1)
    assert paginator.capped and paginator.count_shown == 5  # "more than 5 results"
    assert [item.pk for item in first] == [item.pk for item in newest_first[:2]]

    later = CappedPaginator(Incident.objects.order_by("-started_at", "-id"), 2).get_page(4)
    assert later.number == 4
    assert [item.pk for item in later] == [item.pk for item in newest_first[6:8]]
    assert later.has_next()


def test_list_page_says_more_than_n_when_capped(small_cap, client, admin_user):
    IncidentFactory.create_batch(7)
    client.force_login(admin_user)
    response = client.get("/incidents/")
    assert "More than 5 results" in response.content.decode()


def test_api_list_says_when_its_count_is_capped(small_cap, client, admin_user):
    IncidentFactory.create_batch(7)
    client.force_login(admin_user)
    body = client.get("/api/v1/incidents/").json()
    assert body["count_capped"] is True and body["count"] == 6
    assert client.get("/api/v1/incidents/?kind=near_miss").json()["count_capped"] is False


# --- P5: query counts of the list pages do not depend on the number of rows -------------------------------

LIST_QUERY = "team=payments&environment=prod&severity=sev2&q=certificate"


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries.captured_queries)


def _matching(count: int, team) -> None:
    for number in range(count):
        IncidentFactory(
            team=team, title=f"Certificate expired ({number})", severity="sev2", causes=["missing-check"]
        )
        NearMissFactory(team=team, title=f"Certificate about to expire ({number})", severity="sev2")


@pytest.mark.parametrize("url", [f"/incidents/?{LIST_QUERY}", f"/api/v1/incidents/?{LIST_QUERY}"])
def test_list_query_count_does_not_depend_on_the_number_of_rows(url, client, admin_user):
    payments = TeamFactory(name="Payments", slug="payments")
    client.force_login(admin_user)
    _matching(2, payments)
    few = _queries(client, url)
    _matching(30, payments)
    assert _queries(client, url) == few


# --- Wiring ------------------------------------------------------------------------------------------------


def test_the_baseline_view_is_reachable_only_under_the_bench_urlconf():
    with pytest.raises(Resolver404):
        resolve("/bench/baseline/incidents/")
    assert resolve("/bench/baseline/incidents/", urlconf="bench.urls").url_name == "bench_baseline_incident_create"


def test_migration_0007_search_document_matches_the_search_module():
    migration = importlib.import_module("incidents.migrations.0007_report_and_list_indexes")
    assert search_document_sql() == migration.DOCUMENT
