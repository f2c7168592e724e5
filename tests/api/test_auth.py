"""The auth matrix: no token, unknown, revoked, read, write, another team's token, and a signed-in person."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from incidents.models import ApiToken, Incident
from incidents.services import api_token_revoke
from incidents.tokens import api_token_hash
from tests.api.conftest import Tool
from tests.factories import IncidentFactory, NearMissFactory

pytestmark = pytest.mark.django_db

NEW_ITEM = {"kind": "near_miss", "title": "Migration would have locked orders"}


def test_missing_token_gets_401_with_a_bearer_challenge(anonymous):
    response = anonymous.get("/api/v1/incidents/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "detail" in response.json()


def test_unknown_token_gets_401(anonymous):
    anonymous.client.credentials(HTTP_AUTHORIZATION="Bearer hs_not-a-real-token")
    response = anonymous.get("/api/v1/incidents/")
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid token."


def test_revoked_token_gets_401(writer):
    api_token_revoke(token=writer.token)
    response = writer.get("/api/v1/incidents/")
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


def test_read_token_reads_but_cannot_write(reader):
    assert reader.get("/api/v1/incidents/").status_code == 200
    response = reader.post("/api/v1/incidents/", NEW_ITEM)
    assert response.status_code == 403
    assert "write scope" in response.json()["detail"]
    assert not Incident.objects.exists()


def test_write_token_writes_for_its_team(writer, team):
    response = writer.post("/api/v1/incidents/", NEW_ITEM)
    assert response.status_code == 201
    assert response.json()["team"] == "payments"
    assert Incident.objects.get().team == team


def test_token_use_is_recorded(writer):
    assert writer.token.last_used_at is None
    writer.get("/api/v1/teams/")
    writer.token.refresh_from_db()
    assert writer.token.last_used_at is not None


def test_another_teams_token_cannot_see_a_confidential_near_miss(other_writer, team):
    secret = NearMissFactory(team=team, confidential=True, reporter=None)
    response = other_writer.get(f"/api/v1/incidents/{secret.reference}/")
    assert response.status_code == 404
    assert other_writer.get("/api/v1/incidents/").json()["count"] == 0


def test_another_teams_token_cannot_change_an_item(other_writer, team):
    incident = IncidentFactory(team=team)
    response = other_writer.patch(f"/api/v1/incidents/{incident.reference}/", {"title": "Mine now", "version": 1})
    assert response.status_code == 403
    incident.refresh_from_db()
    assert incident.title != "Mine now"


def test_signed_in_person_browses_with_the_session_but_cannot_write_without_a_token(reporter, team):
    IncidentFactory(team=team)
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(reporter)
    assert client.get("/api/v1/incidents/").json()["count"] == 1
    response = client.post("/api/v1/incidents/", NEW_ITEM, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_browsable_api_renders_for_a_signed_in_person(reporter):
    client = APIClient()
    client.force_login(reporter)
    response = client.get("/api/v1/causes/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert b"missing-check" in response.content


def test_malformed_authorization_header_gets_401(anonymous):
    anonymous.client.credentials(HTTP_AUTHORIZATION="Bearer two words")
    assert anonymous.get("/api/v1/teams/").status_code == 401


def test_create_api_token_prints_the_token_once_and_stores_only_its_hash(team, capsys):
    call_command("create_api_token", "deploy pipeline", "--team", "payments", "--scope", "write")
    raw = capsys.readouterr().out.strip()
    token = ApiToken.objects.get()
    assert raw.startswith(token.prefix)
    assert token.token_hash == api_token_hash(raw)
    assert raw not in {token.name, token.prefix, token.token_hash}
    assert token.scope == "write" and token.team == team
    response = Tool(token, raw).get("/api/v1/teams/")
    assert response.status_code == 200


def test_create_api_token_refuses_an_unknown_team(team):
    with pytest.raises(CommandError, match="No team with slug 'nope'"):
        call_command("create_api_token", "x", "--team", "nope", "--scope", "read")
