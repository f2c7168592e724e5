"""Who sees what: the visibility rules shared by every page and endpoint."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from incidents.models import ConfidentialReporter, Incident
from incidents.policies import viewer_for_team, viewer_for_user
from incidents.selectors import (
    action_items_overdue,
    incident_get,
    incident_list,
    incidents_visible,
)
from tests.factories import ActionItemFactory, IncidentFactory, NearMissFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def confidential(team, reporter):
    near_miss = NearMissFactory(team=team, confidential=True)
    ConfidentialReporter.objects.create(incident=near_miss, user=reporter, receipt_hash="h" * 64)
    return near_miss


def visible_refs(user_or_viewer) -> set[str]:
    viewer = user_or_viewer if hasattr(user_or_viewer, "team_ids") else viewer_for_user(user_or_viewer)
    return {incident.reference for incident in incidents_visible(viewer)}


def test_everyone_signed_in_sees_every_teams_ordinary_items(team, other_team, outsider, reporter):
    mine, theirs = IncidentFactory(team=team), NearMissFactory(team=other_team)
    assert visible_refs(outsider) == visible_refs(reporter) == {mine.reference, theirs.reference}


def test_confidential_near_miss_is_seen_by_its_reporter_the_team_leads_and_admins_only(
    confidential, reporter, lead, outsider, admin_user, team
):
    other_member = UserFactory(username="mo")
    other_member.memberships.create(team=team)
    assert confidential.reference in visible_refs(reporter)
    assert confidential.reference in visible_refs(lead)
    assert confidential.reference in visible_refs(admin_user)
    assert confidential.reference not in visible_refs(outsider)
    assert confidential.reference not in visible_refs(other_member)
    assert confidential.reference not in visible_refs(viewer_for_team(team))


def test_purged_reporter_identity_leaves_the_item_to_leads(confidential, reporter, lead):
    ConfidentialReporter.objects.filter(incident=confidential).update(user=None)
    assert confidential.reference not in visible_refs(reporter)
    assert confidential.reference in visible_refs(lead)


def test_anonymous_sees_nothing():
    IncidentFactory()
    assert visible_refs(AnonymousUser()) == set()


def test_incident_get_finds_by_reference_and_hides_what_the_viewer_may_not_see(confidential, outsider, lead):
    incident = IncidentFactory()
    assert incident_get(viewer=viewer_for_user(outsider), reference=incident.reference.lower()) == incident
    assert incident_get(viewer=viewer_for_user(lead), reference=confidential.reference) == confidential
    for reference in (confidential.reference, "INC-999", "XYZ-1", "NM-"):
        with pytest.raises(Incident.DoesNotExist):
            incident_get(viewer=viewer_for_user(outsider), reference=reference)


def test_incident_list_uses_a_fixed_number_of_queries(django_assert_num_queries, reporter, service):
    viewer = viewer_for_user(reporter)

    def run() -> int:
        with django_assert_num_queries(3):  # incidents, their services, their causes
            rows = list(incident_list(viewer=viewer))
            return sum(len(row.services.all()) + len(row.causes.all()) + len(row.team.name) for row in rows)

    IncidentFactory(causes=["missing-check"], services=[service])
    run()
    for _ in range(5):
        IncidentFactory(causes=["missing-check", "config-drift"], services=[service])
    run()


def test_overdue_action_items_are_open_and_past_due(team, other_team):
    today = timezone.localdate()
    late = ActionItemFactory(incident=IncidentFactory(team=team), due_date=today - dt.timedelta(days=1))
    ActionItemFactory(incident=IncidentFactory(team=team), due_date=today)
    ActionItemFactory(incident=IncidentFactory(team=other_team), due_date=today - dt.timedelta(days=3))
    assert list(action_items_overdue(team_ids=frozenset({team.pk}))) == [late]
    assert action_items_overdue().count() == 2
