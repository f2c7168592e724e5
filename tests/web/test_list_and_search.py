"""The list and search page: every filter in the query string, paginated, in a fixed number of queries."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from incidents.models import Incident
from tests.factories import (
    ActionItemFactory,
    IncidentFactory,
    NearMissFactory,
    ReleaseFactory,
    ServiceFactory,
    TeamFactory,
    cause,
    environment,
)

pytestmark = pytest.mark.django_db
LIST = reverse("incidents:incident_list")


def references(response) -> list[str]:
    return [incident.reference for incident in response.context["page"]]


def test_search_finds_items_by_their_words(login, reporter):
    hit = IncidentFactory(title="Certificate expired on the payment gateway")
    IncidentFactory(title="Disk filled with debug logs")
    response = login(reporter).get(LIST, {"q": "certificate gateway"})
    assert references(response) == [hit.reference]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("-ledger", {"checkout"}),
        ("outage -ledger", {"checkout"}),
        ("ledger -checkout", {"ledger"}),
        ('"ledger outage"', {"ledger"}),
        ('-"ledger outage"', {"checkout", "both"}),
        ("ledger or checkout", {"ledger", "checkout", "both"}),
        ("queue or ledger -checkout", {"ledger"}),
        ("LEDGER", {"ledger", "both"}),
        ("!!!", set()),
    ],
)
def test_search_syntax_is_the_same_on_every_database(login, reporter, query, expected):
    named = {
        "ledger": IncidentFactory(title="Ledger outage at midnight", summary="The nightly job stopped."),
        "checkout": IncidentFactory(title="Checkout outage", summary="Card payments failed."),
        "both": IncidentFactory(title="Ledger lag slowed checkout", summary="A slow replica."),
    }
    response = login(reporter).get(LIST, {"q": query})
    by_reference = {item.reference: name for name, item in named.items()}
    assert {by_reference[ref] for ref in references(response)} == expected


def test_a_number_finds_the_item_with_it_whatever_its_spelling(login, reporter):
    incident = IncidentFactory(title="Queue stalled")
    near_miss = NearMissFactory(title="Queue nearly stalled")
    mentions = IncidentFactory(title="Unrelated", summary=f"see ticket {near_miss.number} upstream")
    client = login(reporter)
    assert references(client.get(LIST, {"q": incident.reference})) == [incident.reference]
    assert references(client.get(LIST, {"q": near_miss.reference.lower()})) == [near_miss.reference]
    found = set(references(client.get(LIST, {"q": f"#{near_miss.number}"})))
    assert near_miss.reference in found and mentions.reference not in found
    found = set(references(client.get(LIST, {"q": f" {near_miss.number} "})))
    assert {near_miss.reference, mentions.reference} <= found


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"kind": "near_miss"}, {"near"}),
        ({"status": ["draft"]}, {"draft"}),
        ({"counted": "false"}, {"triage"}),
        ({"severity": ["sev1"]}, {"sev1"}),
        ({"caught_by": ["luck"]}, {"near"}),
        ({"environment": ["dev"]}, {"near"}),
        ({"team": ["platform"]}, {"sev1"}),
        ({"cause": ["config-drift"]}, {"draft"}),
        ({"cause": ["config-drift"], "gate": "staging"}, {"draft"}),
        ({"gate": "canary"}, set()),
        ({"service": ["ledger"]}, {"sev1"}),
        ({"started_from": "2026-03-02", "started_to": "2026-03-02"}, {"triage"}),
    ],
)
def test_every_filter_lives_in_the_query_string(login, reporter, team, params, expected):
    platform = TeamFactory(name="Platform", slug="platform")
    ledger = ServiceFactory(slug="ledger", name="Ledger")
    day = timezone.make_aware(dt.datetime(2026, 3, 2, 12, 0))
    items = {
        "near": NearMissFactory(team=team, caught_by="luck", environment=environment("dev")),
        "draft": IncidentFactory(team=team, status="draft", severity="sev3"),
        "triage": IncidentFactory(team=team, status="triage", severity="sev4", started_at=day),
        "sev1": IncidentFactory(team=platform, severity="sev1", services=[ledger]),
    }
    items["draft"].incident_causes.create(cause=cause("config-drift"), gate="staging")
    response = login(reporter).get(LIST, params)
    assert set(references(response)) == {items[name].reference for name in expected}


def test_release_filter_and_ordering(login, reporter, service):
    release = ReleaseFactory(service=service)
    old = IncidentFactory(started_at=timezone.now() - dt.timedelta(days=3))
    new = IncidentFactory()
    old.releases.add(release)
    new.releases.add(release)
    IncidentFactory()
    client = login(reporter)
    response = client.get(LIST, {"release": release.pk, "ordering": "started"})
    assert references(response) == [old.reference, new.reference]
    assert f"Release checkout-api {release.version}" in response.content.decode()


def test_bad_filters_are_explained_not_crashed(login, reporter):
    response = login(reporter).get(LIST, {"kind": "bogus", "started_from": "not a date", "release": "r12"})
    assert response.status_code == 200
    errors = response.context["filter"].form.errors
    assert {"kind", "started_from", "release"} <= set(errors)
    assert "Some filters are not valid" in response.content.decode()


def test_a_one_value_filter_given_twice_is_explained(login, reporter):
    response = login(reporter).get(
        f"{LIST}?started_from=2026-01-01&started_from=2026-02-01&status=draft&status=published"
    )
    assert response.status_code == 200
    errors = response.context["filter"].form.errors
    assert set(errors) == {"started_from"}
    assert errors["started_from"] == ["Give this parameter once."]


def test_a_release_that_does_not_exist_shows_an_empty_list_that_says_so(login, reporter):
    NearMissFactory()
    response = login(reporter).get(LIST, {"release": "999999"})
    assert response.status_code == 200
    assert list(response.context["page"]) == []
    assert "No release has the id 999999" in response.content.decode()


def test_pagination_keeps_the_filters(login, reporter, settings):
    settings.WEB_PAGE_SIZE = 5
    for _ in range(7):
        NearMissFactory()
    IncidentFactory()
    response = login(reporter).get(LIST, {"kind": "near_miss"})
    page = response.content.decode()
    assert "Page 1 of 2" in page and "?kind=near_miss&amp;page=2" in page
    second = login(reporter).get(LIST, {"kind": "near_miss", "page": 2})
    assert len(references(second)) == 2


def make_rows(team, count):
    for number in range(count):
        incident = IncidentFactory(team=team, title=f"Payment outage {number}", causes=["missing-check"])
        incident.services.add(ServiceFactory())
        NearMissFactory(team=team, title=f"Payment near-miss {number}")
        ActionItemFactory(incident=incident)


@pytest.mark.parametrize("rows", [2, 30])
def test_list_queries_do_not_grow_with_rows(login, reporter, team, django_assert_max_num_queries, rows):
    make_rows(team, rows)
    client = login(reporter)
    with django_assert_max_num_queries(14):
        response = client.get(LIST, {"kind": "incident", "cause": "missing-check", "team": "payments"})
    assert len(references(response)) == min(rows, 25)


@pytest.mark.parametrize("rows", [2, 30])
def test_search_queries_do_not_grow_with_rows(login, reporter, team, django_assert_max_num_queries, rows):
    make_rows(team, rows)
    client = login(reporter)
    with django_assert_max_num_queries(12):
        response = client.get(LIST, {"q": "payment outage"})
    assert len(references(response)) == min(rows, 25)


@pytest.mark.parametrize("rows", [2, 30])
def test_home_queries_do_not_grow_with_rows(login, reporter, team, django_assert_max_num_queries, rows):
    make_rows(team, rows)
    Incident.objects.incidents().first().action_items.update(owner=reporter)
    client = login(reporter)
    with django_assert_max_num_queries(11):  # (the 11th: the production environments the tile links to)
        response = client.get(reverse("incidents:home"))
    assert response.context["glance"]["incidents"] == rows
    assert len(response.context["recent"]) == min(2 * rows, 8)
    assert len(response.context["my_items"]) == 1
