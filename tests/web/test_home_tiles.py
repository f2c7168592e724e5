"""The home page: every tile links to the list of exactly what it counts; leads see what waits for their review."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
from django.utils import timezone

from incidents.models import Incident, Membership
from incidents.weeks import Week
from tests.factories import IncidentFactory, MembershipFactory, NearMissFactory, TeamFactory, environment

pytestmark = pytest.mark.django_db

TILES = ("incidents", "near_misses", "sev1", "sev2", "caught_in_prod", "caught_by_luck")


def this_week(hours: int = 1) -> dt.datetime:
    return max(Week.current().start + dt.timedelta(minutes=1), timezone.now() - dt.timedelta(hours=hours))


@pytest.fixture
def week_of_items(team, other_team, reporter, prod, staging):
    started = this_week()
    IncidentFactory(team=team, severity=Incident.Severity.SEV1, started_at=started)
    IncidentFactory(team=other_team, severity=Incident.Severity.SEV2, started_at=started)
    IncidentFactory(team=team, severity=Incident.Severity.SEV2, started_at=started, environment=staging)
    IncidentFactory(team=team, severity=Incident.Severity.SEV1, status=Incident.Status.TRIAGE, started_at=started)
    IncidentFactory(team=team, severity=Incident.Severity.SEV1, started_at=Week.current().start - dt.timedelta(1))
    NearMissFactory(team=team, caught_by=Incident.CaughtBy.LUCK, started_at=started)
    NearMissFactory(team=other_team, caught_by=Incident.CaughtBy.LUCK, started_at=started, environment=prod)
    NearMissFactory(
        team=team, status=Incident.Status.DISMISSED, caught_by=Incident.CaughtBy.LUCK, started_at=started
    )
    # A second production environment counts too.
    edge = environment("prod")
    edge.pk, edge.slug, edge.name, edge.promotion_order = None, "prod-edge", "Production edge", 99
    edge.save()
    IncidentFactory(team=other_team, environment=edge, started_at=started, caught_by=Incident.CaughtBy.LUCK)


def tiles_of(page: str) -> dict[str, tuple[int, str]]:
    found = re.findall(r'<a href="([^"]+)" data-tile="(\w+)"[^>]*>(\d+)</a>', page)
    return {name: (int(number), html.unescape(href)) for href, name, number in found}


def list_count(client, href: str) -> int:
    heading = re.search(r'<h2 id="results-title">(\d+) results?</h2>', client.get(href).content.decode())
    return int(heading.group(1))


@pytest.mark.parametrize("persona", ["outsider", "lead", "admin_user"])
def test_each_tile_links_to_a_list_of_exactly_what_it_counts(request, persona, login, week_of_items, confidential):
    client = login(request.getfixturevalue(persona))
    tiles = tiles_of(client.get("/").content.decode())
    assert set(tiles) == set(TILES)
    assert all(number > 0 for number, _ in tiles.values()) or persona == "outsider"
    for name, (number, href) in tiles.items():
        assert list_count(client, href) == number, name


def test_the_tiles_count_what_they_say(login, outsider, week_of_items):
    tiles = tiles_of(login(outsider).get("/").content.decode())
    numbers = {name: number for name, (number, _) in tiles.items()}
    assert numbers == {
        "incidents": 4,
        "near_misses": 2,
        "sev1": 1,
        "sev2": 3,
        "caught_in_prod": 4,
        "caught_by_luck": 3,
    }


def test_a_lead_sees_what_waits_for_their_review(login, lead, reporter, team, other_team, outsider):
    mine = [IncidentFactory(team=team, status=Incident.Status.IN_REVIEW) for _ in range(3)]
    theirs = IncidentFactory(team=other_team, status=Incident.Status.IN_REVIEW)
    draft = IncidentFactory(team=team, status=Incident.Status.DRAFT)
    page = login(lead).get("/").content.decode()
    section = page.split('id="reviews-title"', 1)[1].split("</section>", 1)[0]
    assert "Waiting for my review (3)" in page
    assert all(item.reference in section for item in mine)
    assert theirs.reference not in section and draft.reference not in section
    for person in (reporter, outsider):
        assert "Waiting for my review" not in login(person).get("/").content.decode()


def test_the_review_list_is_capped_and_links_to_the_rest(login, lead, team):
    for _ in range(12):
        IncidentFactory(team=team, status=Incident.Status.IN_REVIEW)
    client = login(lead)
    page = client.get("/").content.decode()
    link = html.unescape(re.search(r'<a href="([^"]+)">All 12 in review</a>', page).group(1))
    assert list_count(client, link) == 12


def test_the_home_page_runs_a_fixed_number_of_queries(login, lead, team, django_assert_max_num_queries):
    client = login(lead)
    second = TeamFactory(slug="second")
    MembershipFactory(user=lead, team=second, role=Membership.Role.LEAD)
    for owner in (team, second):
        IncidentFactory(team=owner, status=Incident.Status.IN_REVIEW)
    client.get("/")
    with django_assert_max_num_queries(14) as few:
        client.get("/")
    for _ in range(10):
        for owner in (team, second):
            IncidentFactory(team=owner, status=Incident.Status.IN_REVIEW, started_at=this_week())
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get("/")
