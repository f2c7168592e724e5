"""The triage inbox: promote to incident or near-miss, or dismiss, one click each."""

from __future__ import annotations

import pytest
from django.urls import reverse

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
    assert posted.reference in page and "from alertmanager" in page
    assert elsewhere.reference not in page and published.reference not in page


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
    with django_assert_max_num_queries(6):
        response = client.get(INBOX)
    assert len(response.context["page"]) == min(rows, 25)
