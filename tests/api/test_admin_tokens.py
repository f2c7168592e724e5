"""Tokens and GitHub hooks in the admin: created with the secret shown once, revoked with an action."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages

from incidents.models import ApiToken, Hook
from incidents.services import api_token_create
from incidents.tokens import api_token_hash
from tests.api.conftest import Tool

pytestmark = pytest.mark.django_db


def test_admin_creates_a_token_and_shows_it_once(admin_client, team):
    response = admin_client.post(
        "/admin/incidents/apitoken/add/", {"name": "grafana", "team": team.pk, "scope": "read"}, follow=True
    )
    assert response.status_code == 200
    token = ApiToken.objects.get()
    shown = " ".join(str(message) for message in get_messages(response.wsgi_request))
    raw = next(word for word in shown.split() if word.startswith("hs_"))
    assert token.token_hash == api_token_hash(raw) and raw.startswith(token.prefix)
    change_page = admin_client.get(f"/admin/incidents/apitoken/{token.pk}/change/").content.decode()
    assert raw not in change_page and token.token_hash not in change_page


def test_admin_revoke_action_makes_the_token_fail(admin_client, team):
    token, raw = api_token_create(name="ci", team=team, scope="write")
    admin_client.post(
        "/admin/incidents/apitoken/", {"action": "revoke", "_selected_action": [token.pk]}, follow=True
    )
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert Tool(token, raw).get("/api/v1/teams/").status_code == 401


def test_admin_github_hook_keeps_its_secret_hidden_and_checks_the_mapping(admin_client, team):
    response = admin_client.post(
        "/admin/incidents/hook/add/",
        {"name": "acme/checkout", "source": "github", "team": team.pk, "secret": "a-long-enough-webhook-secret",
         "environment_map": '{"production": "prod"}', "active": "on"},
    )  # fmt: skip
    assert response.status_code == 302
    hook = Hook.objects.get()
    page = admin_client.get(f"/admin/incidents/hook/{hook.pk}/change/").content.decode()
    assert "a-long-enough-webhook-secret" not in page
    bad = admin_client.post(
        "/admin/incidents/hook/add/",
        {
            "name": "x",
            "source": "github",
            "team": team.pk,
            "secret": "short",
            "environment_map": '{"production": "moon"}',
        },
    )
    assert bad.status_code == 200
    assert "Unknown environment slugs: moon" in bad.content.decode()
    assert Hook.objects.count() == 1
