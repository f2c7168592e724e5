"""Who sees what: every page that could reveal a confidential near-miss answers 404 to those who may not see it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from incidents.models import ConfidentialReporter
from tests.factories import IncidentFactory

pytestmark = pytest.mark.django_db

PAGES = [
    "incidents:home",
    "incidents:incident_list",
    "incidents:incident_create",
    "incidents:near_miss_create",
    "incidents:triage_inbox",
    "incidents:action_item_list",
    "incidents:release_list",
    "incidents:environment_list",
]


@pytest.mark.parametrize("name", PAGES)
def test_anonymous_is_sent_to_the_login_page(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_anonymous_cannot_see_an_incident(client):
    incident = IncidentFactory()
    response = client.get(reverse("incidents:incident_detail", args=[incident.reference]))
    assert response.status_code == 302


@pytest.mark.parametrize("name", PAGES)
def test_every_page_renders_for_a_member(login, reporter, name):
    response = login(reporter).get(reverse(name))
    assert response.status_code == 200
    assert b"Log out" in response.content


def confidential_urls(incident):
    ref = incident.reference
    return [
        reverse("incidents:incident_detail", args=[ref]),
        reverse("incidents:incident_edit", args=[ref]),
        reverse("incidents:incident_history", args=[ref]),
        reverse("incidents:revision_diff", args=[ref, incident.version]),
    ]


def test_outsider_gets_404_on_every_page_of_a_confidential_near_miss(login, outsider, confidential):
    client = login(outsider)
    for url in confidential_urls(confidential):
        assert client.get(url).status_code == 404, url
    for name in ("incidents:incident_status", "incidents:timeline_add", "incidents:action_item_add"):
        assert client.post(reverse(name, args=[confidential.reference]), {}).status_code == 404, name


def test_outsider_does_not_find_a_confidential_near_miss_in_lists_search_or_similar(login, outsider, confidential):
    client = login(outsider)
    for url, params in [
        (reverse("incidents:incident_list"), {}),
        (reverse("incidents:incident_list"), {"q": "token"}),
        (reverse("incidents:incident_list"), {"kind": "near_miss", "team": "payments"}),
        (reverse("incidents:similar"), {"title": "Secret nearly pushed", "causes": confidential.causes.get().pk}),
        (reverse("incidents:home"), {}),
    ]:
        content = client.get(url, params).content.decode()
        assert confidential.title not in content, (url, params)
        assert confidential.reference not in content, (url, params)


def test_a_member_of_the_team_who_is_not_its_reporter_or_lead_gets_404(login, team, confidential):
    from tests.factories import MembershipFactory, UserFactory

    colleague = MembershipFactory(user=UserFactory(username="cole"), team=team).user
    url = reverse("incidents:incident_detail", args=[confidential.reference])
    assert login(colleague).get(url).status_code == 404


@pytest.mark.parametrize("persona", ["reporter", "lead", "admin_user"])
def test_reporter_lead_and_admin_see_the_confidential_near_miss(login, request, persona, confidential):
    client = login(request.getfixturevalue(persona))
    detail = client.get(reverse("incidents:incident_detail", args=[confidential.reference]))
    assert detail.status_code == 200
    listed = client.get(reverse("incidents:incident_list"), {"q": "token"}).content.decode()
    assert confidential.reference in listed


def test_only_admins_see_who_reported_a_confidential_near_miss(login, lead, admin_user, reporter, confidential):
    url = reverse("incidents:incident_detail", args=[confidential.reference])
    lead_page = login(lead).get(url).content.decode()
    assert "kept confidential" in lead_page and "rita (visible to admins only)" not in lead_page
    assert "rita (visible to admins only)" in login(admin_user).get(url).content.decode()
    ConfidentialReporter.objects.filter(incident=confidential).update(user=None)
    assert "identity purged" in login(admin_user).get(url).content.decode()


def test_outsider_sees_other_teams_items_but_cannot_change_them(login, outsider, team):
    incident = IncidentFactory(team=team, title="Ledger drift")
    client = login(outsider)
    detail = client.get(reverse("incidents:incident_detail", args=[incident.reference]))
    assert detail.status_code == 200 and b"Ledger drift" in detail.content
    assert b">Edit</a>" not in detail.content
    assert client.get(reverse("incidents:incident_edit", args=[incident.reference])).status_code == 403
    response = client.post(
        reverse("incidents:incident_status", args=[incident.reference]),
        {"status": "in_review", "expected_version": incident.version},
    )
    assert response.status_code == 403


def test_forms_are_protected_by_csrf(reporter, team, staging):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(reporter)
    response = client.post(reverse("incidents:near_miss_create"), {"title": "x"})
    assert response.status_code == 403
    page = client.get(reverse("incidents:near_miss_create")).content.decode()
    assert 'name="csrfmiddlewaretoken"' in page
