"""The triage inbox: promote to incident or near-miss, or dismiss, one click each or several ticked at once;
newest first, filtered, counted, and without numbers that promotion would change."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from incidents.markdown import POSTMORTEM_TEMPLATE
from incidents.models import Incident
from tests.factories import IncidentFactory, NearMissFactory

pytestmark = pytest.mark.django_db
INBOX = reverse("incidents:triage_inbox")


@pytest.fixture
def posted(team):
    return IncidentFactory(
        team=team, status="triage", source="alertmanager", external_id="fp-1", body="", title="HighErrorRate"
    )


def act(client, item, action, version=None):
    return client.post(
        reverse("incidents:triage_act", args=[item.reference]),
        {"action": action, "expected_version": version or item.version},
    )


def test_the_inbox_lists_my_teams_triage_items_only(login, reporter, team, other_team, posted):
    elsewhere = IncidentFactory(team=other_team, status="triage")
    published = IncidentFactory(team=team)
    page = login(reporter).get(INBOX).content.decode()
    assert posted.title in page and "from alertmanager, received" in page
    assert elsewhere.title not in page and published.title not in page


def test_promote_to_incident_opens_a_draft_with_the_postmortem_template(login, reporter, posted):
    response = act(login(reporter), posted, "incident")
    assert response.status_code == 302
    posted.refresh_from_db()
    assert posted.status == Incident.Status.DRAFT and posted.kind == Incident.Kind.INCIDENT
    assert posted.body == POSTMORTEM_TEMPLATE
    assert posted.revisions.get().version == 2


def test_promote_to_near_miss_gives_it_a_near_miss_number(login, reporter, posted):
    NearMissFactory()  # NM-1 is taken
    client = login(reporter)
    act(client, posted, "near_miss")
    posted.refresh_from_db()
    assert (posted.reference, posted.status) == ("NM-2", Incident.Status.DRAFT)
    assert posted.external_id == "fp-1"  # the tool's id still finds it
    page = client.get(INBOX).content.decode()
    assert "promoted to" in page and 'href="/incidents/NM-2/"' in page


def test_dismiss_keeps_the_item_on_record(login, reporter, posted):
    act(login(reporter), posted, "dismiss")
    posted.refresh_from_db()
    assert posted.status == Incident.Status.DISMISSED


def test_a_second_click_on_a_handled_item_changes_nothing(login, reporter, posted):
    client = login(reporter)
    act(client, posted, "dismiss")
    response = client.post(
        reverse("incidents:triage_act", args=[posted.reference]), {"action": "incident", "expected_version": 1},
        follow=True,
    )  # fmt: skip
    assert "changed meanwhile" in response.content.decode() or "not in triage" in response.content.decode()
    posted.refresh_from_db()
    assert (posted.status, posted.kind) == (Incident.Status.DISMISSED, Incident.Kind.INCIDENT)


def test_outsiders_cannot_triage_another_teams_items(login, outsider, posted):
    assert act(login(outsider), posted, "incident").status_code == 403
    posted.refresh_from_db()
    assert posted.status == Incident.Status.TRIAGE


def test_an_unknown_action_is_refused(login, reporter, posted):
    response = act(login(reporter), posted, "delete")
    assert response.status_code == 302
    posted.refresh_from_db()
    assert posted.status == Incident.Status.TRIAGE


@pytest.mark.parametrize("rows", [2, 30])
def test_inbox_queries_do_not_grow_with_rows(login, reporter, team, django_assert_max_num_queries, rows):
    for _ in range(rows):
        IncidentFactory(team=team, status="triage")
    client = login(reporter)
    with django_assert_max_num_queries(10):
        response = client.get(INBOX)
    assert len(response.context["page"]) == min(rows, 25)


# --- What the inbox shows: newest first, a count, filters, no number that promotion would change ----------

BULK = reverse("incidents:triage_bulk")


def shown(response) -> list[str]:
    return [item.title for item in response.context["page"]]


def test_newest_received_first_with_a_count_and_oldest_first_on_request(login, reporter, team):
    now = timezone.now()
    for hours, title in ((3, "oldest"), (2, "middle"), (1, "newest")):
        IncidentFactory(team=team, status="triage", title=title, created_at=now - dt.timedelta(hours=hours))
    client = login(reporter)
    response = client.get(INBOX)
    assert shown(response) == ["newest", "middle", "oldest"]
    assert "3 items waiting" in response.content.decode()
    assert shown(client.get(INBOX, {"order": "oldest"})) == ["oldest", "middle", "newest"]


def test_a_triage_item_shows_no_number_that_promotion_would_change(login, reporter, posted):
    NearMissFactory()  # NM-1 is taken, so promoting to a near-miss renumbers it
    client = login(reporter)
    before = client.get(INBOX).content.decode()
    text = re.sub(r"<[^>]+>", " ", before)  # what a person reads, not link targets or form values
    assert posted.reference not in text
    assert f"from alertmanager, received {timezone.localtime(posted.created_at):%Y-%m-%d %H:%M}" in " ".join(
        text.split()
    )
    act(client, posted, "near_miss")
    posted.refresh_from_db()
    assert posted.reference == "NM-2"  # the number did change: it was right not to show the old one


def test_filters_by_source_team_and_environment(login, admin_user, team, other_team, staging, prod):
    IncidentFactory(team=team, status="triage", source="alertmanager", environment=prod, title="a-prod")
    IncidentFactory(team=team, status="triage", source="github", environment=staging, title="g-staging")
    IncidentFactory(team=other_team, status="triage", source="alertmanager", environment=staging, title="a-other")
    client = login(admin_user)
    assert set(shown(client.get(INBOX, {"source": "alertmanager"}))) == {"a-prod", "a-other"}
    assert set(shown(client.get(INBOX, {"team": "platform"}))) == {"a-other"}
    assert set(shown(client.get(INBOX, {"environment": "staging", "source": "alertmanager"}))) == {"a-other"}
    page = client.get(INBOX).content.decode()
    assert "---------" not in page and ">Any<" in page and ">Newest first<" in page


def test_a_bad_filter_is_a_form_error_not_a_500(login, reporter, posted):
    response = login(reporter).get(INBOX, {"source": "no-such-source", "team": "not a slug!"})
    assert response.status_code == 200
    assert response.context["filter"].errors and shown(response) == []
    assert "Some filters are not valid" in response.content.decode()


def test_the_source_filter_offers_only_sources_in_my_inbox(login, reporter, team, other_team):
    IncidentFactory(team=team, status="triage", source="alertmanager")
    IncidentFactory(team=other_team, status="triage", source="secret-tool")
    choices = dict(login(reporter).get(INBOX).context["filter"].form.fields["source"].choices)
    assert "alertmanager" in choices and "secret-tool" not in choices


@pytest.mark.parametrize("rows", [2, 30])
def test_filtered_inbox_queries_do_not_grow_with_rows(login, reporter, team, prod, django_assert_max_num_queries,
                                                      rows):  # fmt: skip
    for _ in range(rows):
        IncidentFactory(team=team, status="triage", source="alertmanager", environment=prod)
    client = login(reporter)
    with django_assert_max_num_queries(12):
        response = client.get(INBOX, {"source": "alertmanager", "team": "payments", "environment": "prod"})
    assert len(response.context["page"]) == min(rows, 25)


# --- Bulk: tick several, one POST --------------------------------------------------------------------------


def bulk(client, items, action, **extra):
    return client.post(BULK, {"items": [item.reference for item in items], "action": action, **extra}, follow=True)


def test_bulk_dismiss_acts_on_every_ticked_item(login, reporter, team):
    items = [IncidentFactory(team=team, status="triage", source="alertmanager") for _ in range(3)]
    untouched = IncidentFactory(team=team, status="triage")
    response = bulk(login(reporter), items, "dismiss")
    assert response.status_code == 200 and "3 items dismissed" in response.content.decode()
    assert {Incident.objects.get(pk=item.pk).status for item in items} == {Incident.Status.DISMISSED}
    untouched.refresh_from_db()
    assert untouched.status == Incident.Status.TRIAGE


def test_bulk_promote_gives_each_a_number_of_its_new_kind(login, reporter, team):
    items = [IncidentFactory(team=team, status="triage") for _ in range(2)]
    bulk(login(reporter), items, "near_miss")
    promoted = Incident.objects.filter(pk__in=[item.pk for item in items])
    assert {(item.kind, item.status) for item in promoted} == {(Incident.Kind.NEAR_MISS, Incident.Status.DRAFT)}
    assert sorted(item.reference for item in promoted) == ["NM-1", "NM-2"]
    assert all(item.revisions.filter(version=2).exists() for item in promoted)


def test_bulk_skips_and_reports_items_i_may_not_triage(login, reporter, team, other_team):
    mine = IncidentFactory(team=team, status="triage")
    theirs = IncidentFactory(team=other_team, status="triage", title="Platform disk full")
    page = bulk(login(reporter), [mine, theirs], "dismiss").content.decode()
    assert "1 item dismissed" in page and "Skipped, as you may not triage them" in page
    assert "Platform disk full" in page
    theirs.refresh_from_db()
    mine.refresh_from_db()
    assert (mine.status, theirs.status) == (Incident.Status.DISMISSED, Incident.Status.TRIAGE)


def test_a_member_of_another_team_posting_our_ids_changes_nothing(login, outsider, team):
    ours = [IncidentFactory(team=team, status="triage") for _ in range(2)]
    response = bulk(login(outsider), ours, "incident")
    assert response.status_code == 200
    assert {Incident.objects.get(pk=item.pk).status for item in ours} == {Incident.Status.TRIAGE}


def test_unknown_and_hidden_references_change_nothing_and_reveal_nothing(login, outsider, confidential, team):
    response = login(outsider).post(BULK, {"items": ["INC-999", confidential.reference], "action": "dismiss"},
                                    follow=True)  # fmt: skip
    page = response.content.decode()
    assert "2 ticked items are no longer in triage" in page and confidential.title not in page
    confidential.refresh_from_db()
    assert confidential.status != Incident.Status.DISMISSED


def test_a_replayed_bulk_post_changes_nothing_more(login, reporter, team):
    items = [IncidentFactory(team=team, status="triage") for _ in range(2)]
    client = login(reporter)
    bulk(client, items, "incident")
    versions = {item.pk: Incident.objects.get(pk=item.pk).version for item in items}
    page = bulk(client, items, "dismiss").content.decode()
    assert "2 ticked items are no longer in triage" in page
    assert {item.pk: Incident.objects.get(pk=item.pk).version for item in items} == versions
    assert {Incident.objects.get(pk=item.pk).status for item in items} == {Incident.Status.DRAFT}


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"action": "dismiss"}, "Tick the items to act on."),
        ({"items": ["INC-1"]}, "Choose what to do."),
        ({"items": ["INC-1"], "action": "delete"}, "Select a valid choice"),
        ({"items": ["DROP TABLE"], "action": "dismiss"}, "is not an item"),
        ({"items": [f"INC-{n}" for n in range(1, 102)], "action": "dismiss"}, "Tick at most 100 items"),
    ],
)
def test_bad_bulk_posts_are_form_errors(login, reporter, posted, data, error):
    response = login(reporter).post(BULK, data)
    assert response.status_code == 400 and error in response.content.decode()
    posted.refresh_from_db()
    assert posted.status == Incident.Status.TRIAGE


def test_bulk_needs_a_csrf_token(reporter, posted):
    client = Client(enforce_csrf_checks=True)
    client.force_login(reporter)
    assert client.post(BULK, {"items": [posted.reference], "action": "dismiss"}).status_code == 403
    posted.refresh_from_db()
    assert posted.status == Incident.Status.TRIAGE


def test_the_checkboxes_show_only_to_those_who_may_triage(login, admin_user, reporter, team, other_team):
    IncidentFactory(team=team, status="triage")
    page = login(reporter).get(INBOX).content.decode()
    assert page.count('name="items"') == 1 and 'form="triage-bulk"' in page


def test_one_item_ticked_in_several_spellings_counts_once(login, reporter, team):
    item = IncidentFactory(team=team, status="triage", source="alertmanager")
    spelled = [item.reference, item.reference.lower(), item.reference.replace("-", "-00")]
    response = login(reporter).post(BULK, {"items": spelled, "action": "dismiss"}, follow=True)
    page = response.content.decode()
    assert "1 item dismissed" in page and "no longer in triage" not in page
    assert Incident.objects.get(pk=item.pk).status == Incident.Status.DISMISSED
