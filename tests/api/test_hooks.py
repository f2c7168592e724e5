"""Webhooks: Alertmanager (version 4, token) and GitHub deployments (signed per hook), with the shared examples."""

from __future__ import annotations

import copy
import datetime as dt
import json

import pytest
from rest_framework.test import APIClient

from incidents.api.authentication import github_signature
from incidents.models import Deployment, GitHubHook, Incident, Release
from tests.api.conftest import payload
from tests.factories import ReleaseFactory, ServiceFactory

pytestmark = pytest.mark.django_db

ALERTMANAGER = "/api/v1/hooks/alertmanager/"
GITHUB = "/api/v1/hooks/github/"


# --- Alertmanager ----------------------------------------------------------------------------------------


def test_firing_example_creates_one_triage_item_per_fingerprint(writer, team):
    response = writer.post(ALERTMANAGER, payload("alertmanager_firing.json"))
    assert response.status_code == 200, response.json()
    assert len(response.json()["created"]) == 2
    items = Incident.objects.order_by("number")
    assert [item.status for item in items] == ["triage", "triage"]
    first = items[0]
    assert first.team == team and first.source == "alertmanager"
    assert first.title == "High CPU Temperature: High CPU core temperature"
    assert first.severity == "sev1"  # severity=critical
    assert first.caught_by == "monitoring_alert"
    assert first.started_at == dt.datetime(2020, 2, 6, 0, 17, 58, 432911, tzinfo=dt.UTC)
    assert first.resolved_at is None  # endsAt is Alertmanager's zero time: not given
    assert "host=andromeda" in first.summary


def test_resent_notification_creates_nothing_new(writer):
    writer.post(ALERTMANAGER, payload("alertmanager_firing.json"))
    again = writer.post(ALERTMANAGER, payload("alertmanager_firing.json"))
    assert again.status_code == 200
    assert again.json()["created"] == [] and len(again.json()["unchanged"]) == 2
    assert Incident.objects.count() == 2


def test_resolved_notification_sets_the_resolved_time(writer):
    firing = payload("alertmanager_firing.json")
    writer.post(ALERTMANAGER, firing)
    resolved = copy.deepcopy(firing)
    resolved["status"] = "resolved"
    resolved["alerts"] = resolved["alerts"][:1]
    resolved["alerts"][0].update(status="resolved", endsAt="2020-02-06T00:47:58.1Z")
    response = writer.post(ALERTMANAGER, resolved)
    assert len(response.json()["resolved"]) == 1
    item = Incident.objects.get(external_id__contains="a1bc48475b20e73d")
    assert item.resolved_at == dt.datetime(2020, 2, 6, 0, 47, 58, 100000, tzinfo=dt.UTC)
    assert Incident.objects.filter(resolved_at__isnull=True).count() == 1
    assert writer.post(ALERTMANAGER, resolved).json()["unchanged"] == [item.reference]


def test_firing_alert_with_a_future_ends_at_is_not_resolved(writer):
    firing = payload("alertmanager_firing.json")
    firing["alerts"][0]["endsAt"] = "2020-02-06T00:22:58Z"  # Alertmanager's resolve timeout, still firing
    writer.post(ALERTMANAGER, firing)
    assert not Incident.objects.filter(resolved_at__isnull=False).exists()


def test_new_firing_period_is_a_new_item(writer):
    firing = payload("alertmanager_firing.json")
    writer.post(ALERTMANAGER, firing)
    later = copy.deepcopy(firing)
    later["alerts"][0]["startsAt"] = "2020-02-07T08:00:00Z"
    assert len(writer.post(ALERTMANAGER, later).json()["created"]) == 1
    assert Incident.objects.count() == 3


def test_labels_map_to_environment_service_and_severity(writer, service, prod, settings):
    settings.ALERTMANAGER_ENVIRONMENT_LABELS = ["env"]
    firing = payload("alertmanager_firing.json")
    firing["alerts"] = firing["alerts"][:1]
    firing["alerts"][0]["labels"].update(env="prod", service="checkout-api", severity="warning")
    firing["extraTopLevel"] = {"ignored": True}
    firing["alerts"][0]["newField"] = [1, 2]
    assert writer.post(ALERTMANAGER, firing).status_code == 200
    item = Incident.objects.get()
    assert item.environment == prod and list(item.services.all()) == [service] and item.severity == "sev3"


def test_unknown_environment_leaves_the_field_empty(writer):
    firing = payload("alertmanager_firing.json")
    firing["alerts"][0]["labels"]["environment"] = "moon-base"
    assert writer.post(ALERTMANAGER, firing).status_code == 200
    assert Incident.objects.filter(environment__isnull=True).count() == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"version": "3"}, "version"),
        ({"alerts": "none"}, "alerts"),
        ({"alerts": [{"status": "firing"}]}, "alerts"),
    ],
)
def test_malformed_alertmanager_payload_names_the_field(writer, change, field):
    response = writer.post(ALERTMANAGER, {**payload("alertmanager_firing.json"), **change})
    assert response.status_code == 400
    assert field in response.json()
    assert not Incident.objects.exists()


def test_alertmanager_needs_a_write_token(reader, anonymous):
    assert reader.post(ALERTMANAGER, payload("alertmanager_firing.json")).status_code == 403
    assert anonymous.post(ALERTMANAGER, payload("alertmanager_firing.json")).status_code == 401


# --- GitHub ----------------------------------------------------------------------------------------------

SECRET = "a-long-enough-webhook-secret"


@pytest.fixture
def hook(team, service):
    return GitHubHook.objects.create(
        name="acme/checkout", team=team, service=service, secret=SECRET, environment_map={"production": "prod"}
    )


def deliver(event: str, body: dict | bytes, secret: str | None = SECRET, **headers):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    if secret is not None:
        headers["HTTP_X_HUB_SIGNATURE_256"] = github_signature(secret, raw)
    return APIClient().post(GITHUB, raw, content_type="application/json", HTTP_X_GITHUB_EVENT=event, **headers)


def test_deployment_status_records_the_release_and_its_deployment(hook, prod):
    response = deliver("deployment_status", payload("github_deployment_status.json"))
    assert response.status_code == 200, response.json()
    deployment = Deployment.objects.select_related("release").get()
    assert deployment.environment == prod and deployment.status == "succeeded"
    assert deployment.release.commit_sha == "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"
    assert deployment.release.version == "f95f852bd8fc"  # ref "master" is no version: the short sha
    assert deployment.deployed_at == dt.datetime(2019, 5, 15, 15, 20, 55, tzinfo=dt.UTC)
    hook.refresh_from_db()
    assert hook.last_delivery_at is not None


def test_deployment_event_records_the_release_only(hook):
    response = deliver("deployment", payload("github_deployment.json"))
    assert response.status_code == 202
    assert Release.objects.count() == 1 and not Deployment.objects.exists()


def test_known_commit_names_the_release(hook, service):
    ReleaseFactory(service=service, version="1.4.2", commit_sha="f95f852bd8fca8fcc58a9a2d6c842781e32a215e")
    deliver("deployment_status", payload("github_deployment_status.json"))
    assert Deployment.objects.get().release.version == "1.4.2"


def test_version_tag_ref_names_the_release(hook):
    body = payload("github_deployment_status.json")
    body["deployment"]["ref"] = "v2.3.0"
    deliver("deployment_status", body)
    assert Release.objects.get().version == "v2.3.0"


def test_failure_then_redelivery_updates_one_deployment(hook):
    body = payload("github_deployment_status.json")
    body["deployment_status"]["state"] = "failure"
    deliver("deployment_status", body)
    deliver("deployment_status", body)
    assert Deployment.objects.get().status == "failed"


def test_pending_state_records_no_deployment(hook):
    body = payload("github_deployment_status.json")
    body["deployment_status"]["state"] = "in_progress"
    assert deliver("deployment_status", body).status_code == 202
    assert not Deployment.objects.exists()


def test_unknown_github_environment_records_no_deployment(hook):
    body = payload("github_deployment_status.json")
    body["deployment_status"]["environment"] = body["deployment"]["environment"] = "qa-eu"
    response = deliver("deployment_status", body)
    assert response.status_code == 202
    assert "qa-eu" in response.json()["detail"]
    assert not Deployment.objects.exists()


def test_environment_named_by_slug_needs_no_mapping(hook, staging):
    body = payload("github_deployment_status.json")
    body["deployment_status"]["environment"] = "staging"
    deliver("deployment_status", body)
    assert Deployment.objects.get().environment == staging


def test_service_defaults_to_the_repository_name(team):
    ServiceFactory(slug="Hello-World", owner_team=team)
    GitHubHook.objects.create(name="hello", team=team, secret=SECRET, environment_map={"production": "prod"})
    assert deliver("deployment_status", payload("github_deployment_status.json")).status_code == 200
    assert Deployment.objects.get().release.service.slug == "Hello-World"


def test_extra_fields_and_form_encoding_are_accepted(hook):
    from urllib.parse import urlencode

    body = payload("github_deployment_status.json")
    body["new_top_level"] = {"x": 1}
    raw = urlencode({"payload": json.dumps(body)}).encode()
    response = APIClient().post(
        GITHUB, raw, content_type="application/x-www-form-urlencoded", HTTP_X_GITHUB_EVENT="deployment_status",
        HTTP_X_HUB_SIGNATURE_256=github_signature(SECRET, raw),
    )  # fmt: skip
    assert response.status_code == 200


def test_missing_signature_is_401(hook):
    response = deliver("deployment_status", payload("github_deployment_status.json"), secret=None)
    assert response.status_code == 401
    assert not Release.objects.exists()


def test_wrong_signature_is_401(hook):
    response = deliver(
        "deployment_status", payload("github_deployment_status.json"), secret="not-the-secret-at-all"
    )
    assert response.status_code == 401
    assert not Release.objects.exists()


def test_inactive_hook_is_not_accepted(hook):
    hook.active = False
    hook.save()
    assert deliver("ping", {"zen": "Keep it simple."}).status_code == 401


def test_signature_of_a_changed_body_is_401(hook):
    raw = json.dumps(payload("github_deployment_status.json")).encode()
    signature = github_signature(SECRET, raw)
    response = APIClient().post(
        GITHUB, raw + b" ", content_type="application/json", HTTP_X_GITHUB_EVENT="deployment_status",
        HTTP_X_HUB_SIGNATURE_256=signature,
    )  # fmt: skip
    assert response.status_code == 401


def test_ping_answers_200_and_other_events_202(hook):
    assert deliver("ping", {"zen": "Keep it simple."}).status_code == 200
    response = deliver("push", {"ref": "refs/heads/main"})
    assert response.status_code == 202
    assert not Release.objects.exists()


def test_malformed_deployment_payload_names_the_field(hook):
    body = payload("github_deployment_status.json")
    body["deployment"]["sha"] = "not-a-sha"
    response = deliver("deployment_status", body)
    assert response.status_code == 400
    assert "deployment" in response.json()
    assert deliver("deployment_status", b"not json").status_code == 400


def test_hook_picks_its_own_team_among_several(hook, other_team):
    ServiceFactory(slug="auth-service", owner_team=other_team)
    other = GitHubHook.objects.create(
        name="acme/auth", team=other_team, service=ServiceFactory(slug="auth"), secret="another-long-secret-value"
    )
    body = payload("github_deployment_status.json")
    body["deployment_status"]["environment"] = "prod"
    deliver("deployment_status", body, secret=other.secret)
    assert Release.objects.get().service.slug == "auth"


def test_label_names_that_cannot_be_stored_are_refused(writer):
    firing = payload("alertmanager_firing.json")
    firing["alerts"][0]["labels"]["bad\x00name"] = "x"
    response = writer.post(ALERTMANAGER, firing)
    assert response.status_code == 400
    assert "alerts" in response.json()
    assert not Incident.objects.exists()
