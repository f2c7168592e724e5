"""Webhooks: Alertmanager (version 4, token) and GitHub deployments (signed per hook), with the shared examples."""

from __future__ import annotations

import copy
import datetime as dt
import json

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from incidents.models import Deployment, Hook, HookDelivery, Incident, Release
from incidents.tokens import github_signature
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
    return Hook.objects.create(
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
    Hook.objects.create(name="hello", team=team, secret=SECRET, environment_map={"production": "prod"})
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
    other = Hook.objects.create(
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


# --- One ownership rule: a tool acting for a team writes only for its team's services or unowned ones ---------


@pytest.fixture
def ledger(other_team):
    """A service of the platform team."""
    return ServiceFactory(slug="ledger", owner_team=other_team)


def status_event(*, state: str = "success", at: str = "2019-05-15T15:20:55Z", repository: str | None = None):
    body = payload("github_deployment_status.json")
    body["deployment_status"].update(state=state, created_at=at)
    if repository is not None:
        body["repository"]["name"] = repository
    return body


@pytest.fixture
def repository_hook(team):
    """A hook of the payments team with no service set: the repository name names the service."""
    return Hook.objects.create(
        name="payments repos", team=team, secret=SECRET, environment_map={"production": "prod"}
    )


def test_repository_naming_another_teams_service_records_nothing(repository_hook, ledger):
    response = deliver("deployment_status", status_event(repository="ledger"), HTTP_X_GITHUB_DELIVERY="d-1")
    assert response.status_code == 202
    assert "not one of payments's services" in response.json()["detail"]
    assert not Release.objects.exists() and not Deployment.objects.exists()
    assert HookDelivery.objects.get().outcome == "ignored"


def test_repository_naming_a_service_without_owner_is_recorded(repository_hook):
    ServiceFactory(slug="Hello-World", owner_team=None)
    assert deliver("deployment_status", status_event()).status_code == 200
    assert Deployment.objects.get().release.service.slug == "Hello-World"


def test_alert_naming_another_teams_service_is_filed_without_it(writer, ledger):
    firing = payload("alertmanager_firing.json")
    firing["alerts"] = firing["alerts"][:1]
    firing["alerts"][0]["labels"]["service"] = "ledger"
    response = writer.post(ALERTMANAGER, firing)
    assert response.status_code == 200
    assert len(response.json()["created"]) == 1
    assert not Incident.objects.get().services.exists()
    [warning] = response.json()["warnings"]
    assert warning["service"] == "ledger" and "not one of payments's services" in warning["detail"]


def test_token_cannot_record_a_deployment_of_another_teams_service(writer, ledger):
    body = {"service": "ledger", "version": "1.0", "environment": "prod", "status": "succeeded"}
    response = writer.post("/api/v1/deployments/", body)
    assert response.status_code == 400
    assert "not one of payments's services" in response.json()["service"][0]
    assert not Deployment.objects.exists()


# --- Replays and ordering ------------------------------------------------------------------------------------


def test_same_delivery_twice_changes_once(hook):
    first = deliver("deployment_status", status_event(state="failure"), HTTP_X_GITHUB_DELIVERY="d-1")
    assert first.status_code == 200
    Deployment.objects.update(status="rolled_back")  # what happened after that delivery
    replay = deliver("deployment_status", status_event(state="failure"), HTTP_X_GITHUB_DELIVERY="d-1")
    assert replay.status_code == 200
    assert "already received" in replay.json()["detail"]
    assert Deployment.objects.get().status == "rolled_back"
    delivery = HookDelivery.objects.get()
    assert (delivery.outcome, delivery.repeats, delivery.hook) == ("recorded", 1, hook)


def test_ignored_delivery_is_handled_again_once_the_hook_is_fixed(hook):
    body = status_event()
    body["deployment_status"]["environment"] = "live"
    assert deliver("deployment_status", body, HTTP_X_GITHUB_DELIVERY="d-1").status_code == 202
    hook.environment_map = {"live": "prod"}
    hook.save()
    assert deliver("deployment_status", body, HTTP_X_GITHUB_DELIVERY="d-1").status_code == 200
    assert Deployment.objects.get().status == "succeeded"
    assert HookDelivery.objects.get().outcome == "recorded"


def test_older_failure_after_a_success_leaves_it_succeeded(hook):
    deliver(
        "deployment_status", status_event(state="success", at="2019-05-15T15:30:00Z"), HTTP_X_GITHUB_DELIVERY="new"
    )
    old = deliver(
        "deployment_status", status_event(state="failure", at="2019-05-15T15:20:00Z"), HTTP_X_GITHUB_DELIVERY="old"
    )
    assert old.status_code == 200
    assert "newer status" in old.json()["detail"]
    deployment = Deployment.objects.get()
    assert deployment.status == "succeeded"
    assert deployment.deployed_at == dt.datetime(2019, 5, 15, 15, 30, tzinfo=dt.UTC)
    assert HookDelivery.objects.get(delivery_id="old").outcome == "unchanged"


def test_newer_failure_after_a_success_marks_it_failed(hook):
    deliver(
        "deployment_status", status_event(state="success", at="2019-05-15T15:20:00Z"), HTTP_X_GITHUB_DELIVERY="a"
    )
    newer = deliver(
        "deployment_status", status_event(state="failure", at="2019-05-15T15:40:00Z"), HTTP_X_GITHUB_DELIVERY="b"
    )
    assert newer.status_code == 200
    assert Deployment.objects.get().status == "failed"


def test_token_deployment_update_older_than_the_stored_one_changes_nothing(writer, service):
    url, base = "/api/v1/deployments/", {"service": "checkout-api", "version": "1.0", "environment": "prod",
                                         "external_id": "run-7"}  # fmt: skip
    writer.post(url, {**base, "status": "succeeded", "deployed_at": "2026-03-02T10:00:00Z"})
    late = writer.post(url, {**base, "status": "failed", "deployed_at": "2026-03-02T09:00:00Z"})
    assert late.status_code == 200
    assert late.json()["status"] == "succeeded"
    newer = writer.post(url, {**base, "status": "rolled_back", "deployed_at": "2026-03-02T11:00:00Z"})
    assert newer.json()["status"] == "rolled_back"


def test_malformed_delivery_id_names_the_header(hook):
    response = deliver("deployment_status", status_event(), HTTP_X_GITHUB_DELIVERY="x" * 101)
    assert response.status_code == 400
    assert "X-GitHub-Delivery" in response.json()
    assert not Deployment.objects.exists()


def test_daily_purge_forgets_deliveries_past_the_retention(hook, settings):
    from incidents.tasks import hook_deliveries_purge_task

    settings.HOOK_DELIVERY_RETENTION_DAYS = 30
    deliver("deployment_status", status_event(state="failure"), HTTP_X_GITHUB_DELIVERY="old")
    HookDelivery.objects.update(received_at=timezone.now() - dt.timedelta(days=31))
    deliver("ping", {"zen": "Keep it simple."}, HTTP_X_GITHUB_DELIVERY="recent")
    assert hook_deliveries_purge_task() == 1
    assert list(HookDelivery.objects.values_list("delivery_id", flat=True)) == ["recent"]


def test_alertmanager_notifications_are_kept_with_their_outcome(writer):
    writer.post(ALERTMANAGER, payload("alertmanager_firing.json"))
    writer.post(ALERTMANAGER, payload("alertmanager_firing.json"))
    outcomes = HookDelivery.objects.filter(source="alertmanager", token=writer.token).order_by("id")
    assert [delivery.outcome for delivery in outcomes] == ["recorded", "unchanged"]


# --- Alert limits ---------------------------------------------------------------------------------------------


def test_notification_with_more_alerts_than_the_cap_is_refused(writer, settings):
    settings.ALERTMANAGER_MAX_ALERTS = 1
    response = writer.post(ALERTMANAGER, payload("alertmanager_firing.json"))
    assert response.status_code == 400
    assert "at most 1 alerts" in response.json()["alerts"][0]
    assert not Incident.objects.exists()


def test_each_alert_counts_against_the_write_throttle(writer, settings):
    settings.API_WRITE_THROTTLE_RATE = "3/min"
    assert writer.post(ALERTMANAGER, payload("alertmanager_firing.json")).status_code == 200  # 2 writes
    later = payload("alertmanager_firing.json")
    for alert in later["alerts"]:
        alert["startsAt"] = "2020-02-07T08:00:00Z"
    response = writer.post(ALERTMANAGER, later)  # 2 more writes: past 3 a minute
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert Incident.objects.count() == 2


def test_notification_costing_more_than_the_whole_rate_is_a_400(writer, settings):
    settings.API_WRITE_THROTTLE_RATE = "1/min"
    response = writer.post(ALERTMANAGER, payload("alertmanager_firing.json"))
    assert response.status_code == 400
    assert "alerts" in response.json()
    assert not Incident.objects.exists()


def test_secret_straddling_the_title_length_is_still_redacted(writer):
    token = "ghp_" + "A1b2C3d4" * 5  # a GitHub token of 44 characters
    firing = payload("alertmanager_firing.json")
    firing["alerts"] = firing["alerts"][:1]
    name = firing["alerts"][0]["labels"]["alertname"]  # the title is "<name>: <summary>"
    filler = "x" * (190 - len(name) - 2)
    firing["alerts"][0]["annotations"]["summary"] = f"{filler} {token} leaked"  # the token spans character 200
    response = writer.post(ALERTMANAGER, firing)
    assert response.status_code == 200
    item = Incident.objects.get()
    assert len(item.title) <= 200
    assert "ghp_" not in item.title and "A1b2C3d4" not in item.title
    assert response.json()["redacted"][item.reference]["title"] == {"secret": 1}


def test_an_alert_label_with_a_line_break_is_refused_naming_the_label(writer):
    body = payload("alertmanager_firing.json")
    body["alerts"][0]["labels"]["alertname"] = "Disk\r\nfull"
    response = writer.post("/api/v1/hooks/alertmanager/", body)
    assert response.status_code == 400
    assert "alertname" in response.json()["alerts"]["0"]["labels"]
    assert not Incident.objects.exists()
