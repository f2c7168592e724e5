"""Action items: mine, my team's, overdue; completed from the list."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from incidents.models import ActionItem
from tests.factories import ActionItemFactory, IncidentFactory

pytestmark = pytest.mark.django_db
LIST = reverse("incidents:action_item_list")


def titles(response) -> set[str]:
    return {item.title for item in response.context["page"]}


@pytest.fixture
def items(team, other_team, reporter, lead):
    ours, theirs = IncidentFactory(team=team), IncidentFactory(team=other_team)
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    return {
        "mine": ActionItemFactory(incident=ours, owner=reporter, title="mine"),
        "team": ActionItemFactory(incident=ours, owner=lead, title="team"),
        "late": ActionItemFactory(incident=ours, title="late", due_date=yesterday),
        "theirs": ActionItemFactory(incident=theirs, title="theirs", due_date=yesterday),
    }


@pytest.mark.parametrize(
    ("show", "expected"),
    [("mine", {"mine"}), ("team", {"mine", "team", "late"}), ("overdue", {"late"}), ("nonsense", {"mine"})],
)
def test_the_three_views(login, reporter, items, show, expected):
    assert titles(login(reporter).get(LIST, {"show": show})) == expected


def test_complete_from_the_list(login, reporter, items):
    client = login(reporter)
    response = client.post(
        reverse("incidents:action_item_complete", args=[items["late"].pk]),
        {"status": "done", "next": LIST + "?show=team"},
    )
    assert response.status_code == 302 and response["Location"] == LIST + "?show=team"
    items["late"].refresh_from_db()
    assert items["late"].status == ActionItem.Status.DONE and items["late"].completed_at is not None
    assert "late" not in titles(client.get(LIST, {"show": "team"}))


def test_completing_redirects_only_to_this_site(login, reporter, items):
    response = login(reporter).post(
        reverse("incidents:action_item_complete", args=[items["mine"].pk]),
        {"status": "wont_do", "next": "https://evil.example/"},
    )
    assert response["Location"] == LIST
    items["mine"].refresh_from_db()
    assert items["mine"].status == ActionItem.Status.WONT_DO


def test_outsiders_cannot_close_another_teams_items(login, outsider, items):
    url = reverse("incidents:action_item_complete", args=[items["mine"].pk])
    assert login(outsider).post(url, {"status": "done"}).status_code == 403
    items["mine"].refresh_from_db()
    assert items["mine"].status == ActionItem.Status.OPEN


def test_a_bad_status_is_refused(login, reporter, items):
    login(reporter).post(reverse("incidents:action_item_complete", args=[items["mine"].pk]), {"status": "open"})
    items["mine"].refresh_from_db()
    assert items["mine"].status == ActionItem.Status.OPEN


def test_items_of_a_hidden_confidential_near_miss_are_not_listed_or_closable(
    login, outsider, confidential, admin_user
):
    item = ActionItemFactory(incident=confidential, owner=outsider, title="secret follow-up")
    client = login(outsider)
    assert "secret follow-up" not in titles(client.get(LIST, {"show": "mine"}))
    assert (
        client.post(reverse("incidents:action_item_complete", args=[item.pk]), {"status": "done"}).status_code
        == 404
    )


@pytest.mark.parametrize("rows", [2, 30])
def test_list_queries_do_not_grow_with_rows(login, reporter, team, django_assert_max_num_queries, rows):
    incident = IncidentFactory(team=team)
    for _ in range(rows):
        ActionItemFactory(incident=incident, owner=reporter)
    client = login(reporter)
    with django_assert_max_num_queries(6):
        response = client.get(LIST, {"show": "team"})
    assert len(response.context["page"]) == min(rows, 25)
