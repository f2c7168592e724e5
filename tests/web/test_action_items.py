"""Action items: mine, my team's, overdue and closed; completed from the list; edited and reassigned."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from incidents.models import ActionItem, AuditEntry
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


# --- Closed items are shown, not only open ones ------------------------------------------------------------


def test_the_closed_view_lists_done_and_wont_do_items_of_mine_and_my_teams(login, reporter, team, other_team):
    ours, theirs = IncidentFactory(team=team), IncidentFactory(team=other_team)
    now = timezone.now()
    ActionItemFactory(incident=ours, title="done", status="done", completed_at=now)
    ActionItemFactory(incident=ours, title="dropped", status="wont_do", completed_at=now - dt.timedelta(days=1))
    ActionItemFactory(incident=ours, title="still open")
    ActionItemFactory(incident=theirs, title="their done", status="done", completed_at=now)
    response = login(reporter).get(LIST, {"show": "closed"})
    assert [item.title for item in response.context["page"]] == ["done", "dropped"]
    page = response.content.decode()
    assert "Won&#x27;t do" in page or "Won't do" in page
    assert 'aria-current="page"' in page and ">Closed<" in page


def test_the_incident_page_shows_closed_items_apart(login, reporter, team):
    incident = IncidentFactory(team=team)
    ActionItemFactory(incident=incident, title="open one")
    ActionItemFactory(incident=incident, title="closed one", status="wont_do", completed_at=timezone.now())
    page = login(reporter).get(reverse("incidents:incident_detail", args=[incident.reference])).content.decode()
    assert "Closed (1)" in page and page.index("open one") < page.index("Closed (1)") < page.index("closed one")


# --- Edit and reassign -------------------------------------------------------------------------------------


def edit_url(item, next_url=""):
    return reverse("incidents:action_item_edit", args=[item.pk]) + (f"?next={next_url}" if next_url else "")


@pytest.fixture
def item(team, reporter):
    return ActionItemFactory(incident=IncidentFactory(team=team), owner=reporter, title="Add a canary", team=team)


def test_edit_title_owner_and_due_date(login, reporter, lead, item):
    client = login(reporter)
    page = client.get(edit_url(item)).content.decode()
    assert 'value="Add a canary"' in page and "---------" not in page
    due = timezone.localdate() + dt.timedelta(days=30)
    response = client.post(edit_url(item), {"title": "Add a canary stage", "owner": lead.pk, "due_date": due})
    assert response.status_code == 302
    detail = reverse("incidents:incident_detail", args=[item.incident.reference])
    assert response["Location"] == detail + "#action-items"
    item.refresh_from_db()
    assert (item.title, item.owner, item.due_date) == ("Add a canary stage", lead, due)
    entry = AuditEntry.objects.filter(action="changed", object_id=str(item.pk)).get()
    assert set(entry.changes) == {"title", "owner", "due_date"}


def test_the_edit_link_shows_only_to_those_who_may_edit(login, reporter, outsider, item):
    url = reverse("incidents:incident_detail", args=[item.incident.reference])
    assert edit_url(item) in login(reporter).get(url).content.decode()
    assert edit_url(item) not in login(outsider).get(url).content.decode()
    assert edit_url(item) in login(reporter).get(LIST, {"show": "mine"}).content.decode()


def test_the_owner_must_be_a_member_of_the_items_team(login, reporter, outsider, item):
    response = login(reporter).post(edit_url(item), {"title": "x", "owner": outsider.pk})
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    item.refresh_from_db()
    assert item.owner == reporter and item.title == "Add a canary"


@pytest.mark.parametrize("due", ["1969-12-31", "2101-01-01", "99999-01-01", "yesterday"])
def test_out_of_range_due_dates_are_form_errors(login, reporter, item, due):
    before = item.due_date
    response = login(reporter).post(edit_url(item), {"title": "Add a canary", "due_date": due})
    assert response.status_code == 400 and "errorlist" in response.content.decode()
    item.refresh_from_db()
    assert item.due_date == before


def test_missing_title_is_a_form_error(login, reporter, item):
    response = login(reporter).post(edit_url(item), {"owner": reporter.pk})
    assert response.status_code == 400 and "This field is required" in response.content.decode()
    item.refresh_from_db()
    assert item.title == "Add a canary"


def test_a_member_of_another_team_may_not_edit(login, outsider, item):
    client = login(outsider)
    assert client.get(edit_url(item)).status_code == 403
    assert client.post(edit_url(item), {"title": "Hijacked", "owner": outsider.pk}).status_code == 403
    item.refresh_from_db()
    assert item.title == "Add a canary"


def test_items_of_a_hidden_confidential_near_miss_are_not_editable(login, outsider, confidential):
    item = ActionItemFactory(incident=confidential, title="secret follow-up")
    client = login(outsider)
    assert client.get(edit_url(item)).status_code == 404
    assert client.post(edit_url(item), {"title": "x"}).status_code == 404
    assert client.get(reverse("incidents:action_item_edit", args=[10**15])).status_code == 404


def test_saving_unchanged_and_replaying_change_nothing(login, reporter, lead, item):
    client = login(reporter)
    data = {"title": "Renamed", "owner": lead.pk, "due_date": item.due_date}
    client.post(edit_url(item), data)
    client.post(edit_url(item), data)
    assert AuditEntry.objects.filter(action="changed", object_id=str(item.pk)).count() == 1


def test_edit_returns_only_to_this_site(login, reporter, item):
    response = login(reporter).post(edit_url(item), {"title": "Renamed", "next": "https://evil.example/"})
    assert response["Location"].startswith("/incidents/")
    response = login(reporter).post(edit_url(item), {"title": "Renamed again", "next": LIST + "?show=mine"})
    assert response["Location"] == LIST + "?show=mine"


def test_titles_are_redacted_on_the_way_in(login, reporter, item):
    login(reporter).post(edit_url(item), {"title": "Ask bob@example.com"})
    item.refresh_from_db()
    assert "bob@example.com" not in item.title


@pytest.mark.parametrize("rows", [2, 30])
def test_closed_list_queries_do_not_grow_with_rows(login, reporter, team, django_assert_max_num_queries, rows):
    incident = IncidentFactory(team=team)
    for _ in range(rows):
        ActionItemFactory(incident=incident, owner=reporter, status="done", completed_at=timezone.now())
    client = login(reporter)
    with django_assert_max_num_queries(6):
        response = client.get(LIST, {"show": "closed"})
    assert len(response.context["page"]) == min(rows, 25)


def test_editing_an_item_keeps_an_owner_who_is_not_a_member_of_its_team(login, lead, team, other_team):
    """An owner from outside the item's team (chosen when it was filed, or since moved) stays a choice, so a
    save that changes only the due date does not drop them."""
    from incidents.models import ActionItem
    from tests.factories import IncidentFactory, MembershipFactory, UserFactory

    elsewhere = MembershipFactory(user=UserFactory(username="ola"), team=other_team).user
    item = ActionItem.objects.create(incident=IncidentFactory(team=team), team=team, title="Fix", owner=elsewhere)
    client = login(lead)
    url = reverse("incidents:action_item_edit", args=[item.pk])
    assert f'<option value="{elsewhere.pk}" selected>' in client.get(url).content.decode()
    response = client.post(url, {"title": "Fix", "owner": elsewhere.pk, "due_date": "2030-01-01"})
    assert response.status_code == 302, response.content.decode()[:500]
    item.refresh_from_db()
    assert item.owner == elsewhere and str(item.due_date) == "2030-01-01"
