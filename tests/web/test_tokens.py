"""The API token page: a team's leads (and admins) create and revoke its tokens; nobody else does."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from rest_framework.test import APIClient

from incidents.models import ApiToken, AuditEntry, Membership
from incidents.services import api_token_create
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

URL = "/tokens/"


def created_secret(response, client) -> str:
    """Creating redirects (post/redirect/get); the page it leads to shows the secret, once."""
    assert response.status_code == 302 and response["Location"] == URL, response.content.decode()
    return re.search(r'<code class="secret">(hs_[^<]+)</code>', client.get(URL).content.decode()).group(1)


def api_status(raw: str) -> int:
    return APIClient(HTTP_AUTHORIZATION=f"Bearer {raw}").get("/api/v1/incidents/").status_code


def test_a_lead_creates_a_token_shown_once_that_works_until_revoked_at_once(login, lead, team):
    client = login(lead)
    raw = created_secret(client.post(URL, {"name": "deploy pipeline", "team": team.pk, "scope": "write"}), client)
    token = ApiToken.objects.get()
    assert token.team == team and token.scope == ApiToken.Scope.WRITE and token.name == "deploy pipeline"
    assert raw not in client.get(URL).content.decode()  # never shown again
    assert token.prefix in client.get(URL).content.decode()
    assert api_status(raw) == 200
    page = client.get(URL).content.decode()
    assert "Read and write" in page and "Never" not in page  # last used is shown once it has been used
    assert client.post(f"/tokens/{token.pk}/revoke/").status_code == 302
    assert api_status(raw) == 401
    assert "Revoked" in client.get(URL).content.decode()
    trail = AuditEntry.objects.filter(object_id=str(token.pk), content_type__model="apitoken")
    assert sorted(trail.values_list("action", "actor__username")) == [("created", "leo"), ("revoked", "leo")]


def test_the_page_lists_only_the_teams_the_lead_leads(login, lead, team, other_team):
    api_token_create(name="platform deploys", team=other_team, scope="read")
    api_token_create(name="payments dashboard", team=team, scope="read")
    page = login(lead).get(URL).content.decode()
    assert "payments dashboard" in page and "platform deploys" not in page
    assert f'<option value="{other_team.pk}"' not in page


def test_a_lead_cannot_create_a_token_for_another_team(login, lead, other_team):
    response = login(lead).post(URL, {"name": "sneaky", "team": other_team.pk, "scope": "write"})
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_members_and_other_teams_leads_are_refused(login, client, reporter, outsider, team, other_team):
    token, raw = api_token_create(name="payments dashboard", team=team, scope="read")
    other_lead = MembershipFactory(team=other_team, role=Membership.Role.LEAD).user
    for person in (reporter, outsider):
        client = login(person)
        assert client.get(URL).status_code == 403
        assert client.post(URL, {"name": "x", "team": team.pk, "scope": "read"}).status_code == 403
        assert client.post(f"/tokens/{token.pk}/revoke/").status_code == 403
    client = login(other_lead)
    assert client.get(URL).status_code == 200
    assert client.post(f"/tokens/{token.pk}/revoke/").status_code == 404  # another team's token: unseen
    assert api_status(raw) == 200 and ApiToken.objects.count() == 1


def test_an_admin_manages_every_teams_tokens(login, admin_user, team, other_team):
    token, raw = api_token_create(name="platform deploys", team=other_team, scope="write")
    client = login(admin_user)
    assert "platform deploys" in client.get(URL).content.decode()
    assert client.post(f"/tokens/{token.pk}/revoke/").status_code == 302
    assert api_status(raw) == 401


def test_revoking_and_creating_need_the_csrf_token(lead, team):
    token, raw = api_token_create(name="payments dashboard", team=team, scope="read")
    client = Client(enforce_csrf_checks=True)
    client.force_login(lead)
    assert client.post(f"/tokens/{token.pk}/revoke/").status_code == 403
    assert client.post(URL, {"name": "x", "team": team.pk, "scope": "read"}).status_code == 403
    assert api_status(raw) == 200 and ApiToken.objects.count() == 1


def test_bad_input_is_a_form_error(login, lead, team):
    client = login(lead)
    assert client.post(URL, {"name": "", "team": team.pk, "scope": "read"}).status_code == 400
    assert client.post(URL, {"name": "x" * 101, "team": team.pk, "scope": "read"}).status_code == 400
    assert client.post(URL, {"name": "x", "team": team.pk, "scope": "admin"}).status_code == 400
    assert client.post(URL, {"name": "two\nlines", "team": team.pk, "scope": "read"}).status_code == 400
    assert not ApiToken.objects.exists()


def test_the_navigation_links_the_page_for_leads_and_admins_only(login, lead, reporter, outsider, admin_user):
    for person, shown in ((lead, True), (admin_user, True), (reporter, False), (outsider, False)):
        assert (f'href="{URL}"' in login(person).get("/").content.decode()) is shown, person.username
