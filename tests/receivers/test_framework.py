"""What every receiver shares: hooks made by command and admin, and a hook's token accepted by its receiver only."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from incidents.api.receivers import RECEIVERS
from incidents.audit import acting_as
from incidents.models import ApiToken, Hook, HookSource, Incident
from incidents.services import api_token_create, api_token_revoke, hook_create
from tests.api.conftest import payload
from tests.factories import ServiceFactory
from tests.receivers.conftest import Sender

pytestmark = pytest.mark.django_db


def bearer(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_every_source_has_a_receiver_at_its_url(client):
    assert set(RECEIVERS) == set(HookSource.values)
    for source in RECEIVERS:
        assert client.post(f"/api/v1/hooks/{source}/", b"{}", content_type="application/json").status_code == 401


def create_hook(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("create_hook", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_create_hook_prints_the_url_and_a_token_that_its_receiver_accepts(team, prod):
    out, err = create_hook("alertmanager", "prometheus prod", "--team", team.slug, "--environment", "*=prod")
    url_line, token_line = out.splitlines()
    assert url_line == "url: http://127.0.0.1:8000/api/v1/hooks/alertmanager/"
    raw = token_line.removeprefix("token: ")
    hook = Hook.objects.get(name="prometheus prod")
    assert hook.token.scope == "hook" and hook.environment_map == {"*": "prod"} and not hook.secret
    assert "shown once" in err
    response = bearer(raw).post("/api/v1/hooks/alertmanager/", payload("alertmanager_firing.json"), format="json")
    assert response.status_code == 200, response.json()
    assert set(Incident.objects.values_list("environment__slug", flat=True)) == {"prod"}  # "*" maps the rest


def test_create_hook_for_a_signed_sender_prints_the_secret_given_or_a_new_one(team, service):
    out, _ = create_hook("pagerduty", "pd", "--team", team.slug, "--service", service.slug, "--secret", "s" * 20)
    assert out.splitlines()[1] == "secret: " + "s" * 20
    out, _ = create_hook("pagerduty", "pd2", "--team", team.slug)
    generated = out.splitlines()[1].removeprefix("secret: ")
    assert len(generated) >= 32 and Hook.objects.get(name="pd2").secret == generated
    assert Hook.objects.get(name="pd").service == service and Hook.objects.get(name="pd").token is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["pagerduty", "x", "--team", "nope"], "No team with slug 'nope'"),
        (["pagerduty", "x", "--team", "payments", "--service", "nope"], "No service with slug 'nope'"),
        (["pagerduty", "x", "--team", "payments", "--secret", "short"], "at least 16 characters"),
        (["grafana", "x", "--team", "payments", "--secret", "s" * 20], "sends a token, not a signature"),
        (["grafana", "x", "--team", "payments", "--environment", "prod"], "give NAME=SLUG"),
        (["grafana", "x", "--team", "payments", "--environment", "production=moon"], "Unknown environment slugs"),
        (["grafana", "x\nnewline", "--team", "payments"], "name"),
        (["grafana", "ledger", "--team", "payments", "--service", "ledger"], "not one of payments's services"),
    ],
)
def test_create_hook_refuses_what_would_not_work(team, other_team, args, message):
    ServiceFactory(slug="ledger", owner_team=other_team)
    with pytest.raises(CommandError, match=message):
        create_hook(*args)
    assert not Hook.objects.exists() and not ApiToken.objects.filter(scope="hook").exists()


def test_create_api_token_cannot_make_a_hook_token(team):
    with pytest.raises(CommandError):
        call_command("create_api_token", "x", "--team", team.slug, "--scope", "hook", stderr=io.StringIO())


@pytest.fixture
def grafana_token(make_hook) -> str:
    return make_hook("grafana").secret


def test_a_hook_token_reads_and_writes_nothing_else(grafana_token, team):
    client = bearer(grafana_token)
    for method, url in [("get", "/api/v1/incidents/"), ("get", "/api/v1/teams/"), ("post", "/api/v1/incidents/"),
                        ("post", "/api/v1/hooks/alertmanager/"), ("post", "/api/v1/hooks/opsgenie/"),
                        ("get", f"/api/v1/teams/{team.slug}/chat/slack/")]:  # fmt: skip
        response = getattr(client, method)(url, {}, format="json")
        assert response.status_code == 403, (url, response.content)
        assert "accepted only at /api/v1/hooks/grafana/" in response.json()["detail"]


def test_a_switched_off_or_revoked_hook_token_is_refused(make_hook):
    created = make_hook("opsgenie")
    sender = Sender(created)
    created.hook.active = False
    created.hook.save()
    assert sender.post({"id": "1"}).status_code == 403
    api_token_revoke(token=created.hook.token)
    assert sender.post({"id": "1"}).status_code == 401


def test_a_read_token_delivers_nothing(team):
    _, raw = api_token_create(name="dashboard", team=team, scope=ApiToken.Scope.READ)
    response = bearer(raw).post("/api/v1/hooks/opsgenie/", {"action": "Create"}, format="json")
    assert response.status_code == 403


def test_the_admin_makes_a_hook_and_shows_its_token_once(admin_client, team):
    response = admin_client.post(
        "/admin/incidents/hook/add/",
        {"name": "opsgenie", "source": "opsgenie", "team": team.pk, "environment_map": "{}", "active": "on"},
        follow=True,
    )
    assert response.status_code == 200
    hook = Hook.objects.get()
    assert hook.token is not None and hook.token.scope == "hook"
    page = response.content.decode()
    assert "/api/v1/hooks/opsgenie/" in page and "copy it now" in page
    assert "copy it now" not in admin_client.get(f"/admin/incidents/hook/{hook.pk}/change/").content.decode()


def test_a_hooks_team_is_fixed_and_its_service_must_be_its_teams_on_a_change(admin_client, team, other_team):
    """The hook's token belongs to the team it was made for; a service of another team is refused on a change as
    on creation."""
    with acting_as(label="test"):
        hook = hook_create(source="opsgenie", name="opsgenie", team=team).hook
    theirs = ServiceFactory(name="Ledger", slug="ledger", owner_team=other_team)
    change = f"/admin/incidents/hook/{hook.pk}/change/"
    fields = {"name": "opsgenie", "team": other_team.pk, "environment_map": "{}", "active": "on"}

    refused = admin_client.post(change, {**fields, "service": theirs.pk})
    assert refused.status_code == 200 and "ledger" in refused.content.decode().lower()
    hook.refresh_from_db()
    assert hook.service is None

    assert admin_client.post(change, fields).status_code == 302
    hook.refresh_from_db()
    assert hook.team == team and hook.token.team == team  # the team is read-only once made


def test_the_admin_generates_a_signing_secret_when_none_is_given(admin_client, team):
    response = admin_client.post(
        "/admin/incidents/hook/add/",
        {"name": "pd", "source": "pagerduty", "team": team.pk, "environment_map": "{}", "active": "on"},
        follow=True,
    )
    hook = Hook.objects.get()
    assert len(hook.secret) >= 32 and hook.secret in response.content.decode()


def test_the_admin_refuses_a_secret_for_a_token_sender(admin_client, team):
    response = admin_client.post(
        "/admin/incidents/hook/add/",
        {"name": "x", "source": "grafana", "team": team.pk, "secret": "s" * 20, "environment_map": "{}"},
    )
    assert response.status_code == 200 and "sends a token" in response.content.decode()
    assert not Hook.objects.exists()


def signer(receiver):
    return lambda secret, body: {receiver.signature_header: receiver.signature(secret, body)}


@pytest.fixture
def served() -> dict:
    response = APIClient().get("/api/schema/?format=json")
    assert response.status_code == 200
    return json.loads(response.content)


def test_every_receivers_request_examples_are_accepted_as_documented(make_hook, served):
    """The API docs' example bodies of each alert receiver are what its sender sends: each is recorded."""
    for source, receiver in RECEIVERS.items():
        if source == "github":
            continue  # tests/api/test_schema_docs.py sends GitHub's examples
        created = make_hook(source, **({"secret": f"{source}-signing-secret"} if receiver.signed else {}))
        sender = Sender(created, signer(receiver) if receiver.signed else None)
        content = served["paths"][f"/api/v1/hooks/{source}/"]["post"]["requestBody"]["content"]["application/json"]
        examples = [example["value"] for example in content.get("examples", {}).values()]
        assert examples, source
        for body in examples:
            response = sender.post(body, headers=receiver.example_headers)
            assert response.status_code in (200, 202), (source, response.content)
            assert response.json()["errors"] == [], (source, response.json())
