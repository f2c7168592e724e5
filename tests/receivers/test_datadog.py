"""Datadog's Webhooks integration: a hook's bearer token; monitors triggered, warned and recovered."""

from __future__ import annotations

import datetime as dt

import pytest
from rest_framework.test import APIClient

from incidents.api import examples as ex
from incidents.models import ApiToken, HookDelivery, Incident
from incidents.services import api_token_create
from tests.factories import ServiceFactory
from tests.receivers.conftest import PAYLOADS, Sender, hook_of, vendored

pytestmark = pytest.mark.django_db

URL = "/api/v1/hooks/datadog/"
CYCLE_KEY = ex.DATADOG_TRIGGERED["alert_cycle_key"]


@pytest.fixture
def datadog(make_hook) -> Sender:
    return Sender(make_hook("datadog"))


def notification(transition: str = "Triggered", **fields) -> dict:
    body = dict(ex.DATADOG_RECOVERED if transition == "Recovered" else ex.DATADOG_TRIGGERED)
    return {**body, "alert_transition": transition, **fields}


def bearer(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


# --- The documented bodies --------------------------------------------------------------------------------------


def test_the_template_bodies_trigger_and_recover_one_item(datadog, team, service, prod):
    triggered = datadog.post(vendored("datadog", "template_triggered.json"))
    assert triggered.status_code == 200, triggered.json()
    (reference,) = triggered.json()["created"]
    item = Incident.objects.get()
    assert item.title == "Disk usage above 90 % on web-3"  # the transition prefix left out
    assert (item.severity, item.environment, list(item.services.all())) == ("sev2", prod, [service])
    assert item.started_at == dt.datetime(2026, 11, 24, 9, 17, tzinfo=dt.UTC)  # $DATE, milliseconds
    recovered = datadog.post(vendored("datadog", "template_recovered.json"))
    assert recovered.json()["resolved"] == [reference]
    assert Incident.objects.get().resolved_at == dt.datetime(2026, 11, 24, 9, 45, tzinfo=dt.UTC)


def test_the_default_payload_is_read_from_its_title(datadog):
    assert {"default_payload_triggered.json", "template_triggered.json"} <= {
        path.name for path in (PAYLOADS / "datadog").glob("*.json")
    }
    response = datadog.post(vendored("datadog", "default_payload_triggered.json"))
    assert response.status_code == 200, response.json()
    item = Incident.objects.get()
    assert item.title == "Checkout 5xx ratio above 2 %" and item.resolved_at is None
    assert item.external_id.endswith("/7734562950813226104")  # no alert key in the default payload: $ID
    assert "Datadog Triggered (query_alert_monitor)" in item.summary


# --- Transitions ------------------------------------------------------------------------------------------------


def test_a_triggered_alert_becomes_one_triage_item_with_the_mapped_fields(datadog, team, service, prod):
    response = datadog.post(notification())
    assert response.status_code == 200, response.json()
    item = Incident.objects.get()
    assert (item.status, item.kind, item.source) == ("triage", "incident", "datadog")
    assert item.external_id == f"team{team.pk}/{CYCLE_KEY}"
    assert item.title == "Checkout 5xx ratio above 2 % on service:checkout-api,env:prod"  # $ALERT_TITLE
    assert "The 5xx ratio of checkout-api was 4.1 %" in item.summary and "Monitor: 148930217" in item.summary
    assert hook_of(datadog).last_delivery_at is not None
    assert HookDelivery.objects.get(source="datadog").outcome == "recorded"


def test_the_same_notification_again_changes_nothing(datadog):
    first = datadog.post(notification()).json()["created"]
    again = datadog.post(notification())
    assert again.status_code == 200 and again.json()["unchanged"] == first
    assert Incident.objects.count() == 1


@pytest.mark.parametrize("transition", ["Re-Triggered", "Warn", "re-warn", "No Data", "Re-No Data"])
def test_open_transitions_file_an_alert_not_heard_of_and_leave_a_known_one(datadog, transition):
    response = datadog.post(notification(transition))
    assert response.status_code == 200 and len(response.json()["created"]) == 1
    assert datadog.post(notification(transition)).json()["unchanged"] == response.json()["created"]
    assert Incident.objects.get().resolved_at is None


def test_a_recovery_first_heard_of_is_filed_resolved(datadog):
    response = datadog.post(notification("Recovered"))
    assert len(response.json()["created"]) == 1
    assert Incident.objects.get().resolved_at == dt.datetime(2026, 11, 24, 9, 45, tzinfo=dt.UTC)


@pytest.mark.parametrize("transition", ["Renotify", "Muted", "OK"])
def test_other_transitions_are_accepted_and_ignored(datadog, transition):
    response = datadog.post(notification(transition))
    assert response.status_code == 202
    assert response.json()["detail"] == f"Event {transition!r} ignored."
    assert not Incident.objects.exists()


def test_a_notification_without_a_transition_is_ignored(datadog):
    response = datadog.post({"id": "1", "title": "Deploy finished", "event_type": "api", "body": ""})
    assert response.status_code == 202 and response.json()["detail"] == "Event 'api' ignored."


@pytest.mark.parametrize(
    ("keys", "expected"),
    [({}, CYCLE_KEY), ({"alert_cycle_key": ""}, "9bd4ac313a4d1e8fae2482df7b77628"),
     ({"alert_cycle_key": "", "aggreg_key": ""}, "148930217"),
     ({"alert_cycle_key": "", "aggreg_key": "", "alert_id": ""}, "7734562950813226104")],
)  # fmt: skip
def test_the_key_is_the_cycle_key_else_the_aggregation_key_else_the_alert_id_else_the_id(datadog, team, keys,
                                                                                          expected):  # fmt: skip
    datadog.post(notification(**keys))
    assert Incident.objects.get().external_id == f"team{team.pk}/{expected}"


def test_a_new_cycle_of_the_same_monitor_is_a_new_item(datadog):
    datadog.post(notification())
    datadog.post(notification("Recovered"))
    assert len(datadog.post(notification(alert_cycle_key="7734600000000000001")).json()["created"]) == 1
    assert Incident.objects.count() == 2


# --- Severity, environment, service -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("priority", "transition", "severity"),
    [("P1", "Triggered", "sev1"), ("p3", "Triggered", "sev3"), ("P4", "Warn", "sev4"), ("P5", "Triggered", "sev4"),
     ("", "Warn", "sev3"), ("", "Re-Warn", "sev3"), ("", "Triggered", "")],
)  # fmt: skip
def test_severity_is_the_priority_else_sev3_for_a_warning(datadog, priority, transition, severity):
    assert datadog.post(notification(transition, alert_priority=priority)).status_code == 200
    assert Incident.objects.get().severity == severity


@pytest.mark.parametrize(
    ("tags", "environment", "expected"),
    [("env:staging, service:checkout-api", "staging", "checkout-api"), ("environment:prod", "prod", None),
     ("monitor,team:payments", None, None), ("env:moon,service:nothing-here", None, None), ("", None, None)],
)  # fmt: skip
def test_environment_and_service_are_the_tags(datadog, service, tags, environment, expected):
    assert datadog.post(notification(tags=tags)).status_code == 200
    item = Incident.objects.get()
    assert (item.environment.slug if item.environment else None) == environment
    assert list(item.services.values_list("slug", flat=True)) == ([expected] if expected else [])


def test_the_hooks_environment_map_and_service_apply(make_hook, team, staging):
    own = ServiceFactory(slug="payments-core", owner_team=team)
    hook = Sender(make_hook("datadog", name="mapped", service=own, environment_map={"prod": "staging"}))
    hook.post(notification())
    item = Incident.objects.get()
    assert item.environment == staging and list(item.services.all()) == [own]


def test_another_teams_service_is_left_out_with_a_warning(datadog, other_team):
    ServiceFactory(slug="ledger", name="Ledger", owner_team=other_team)
    response = datadog.post(notification(tags="env:prod,service:ledger"))
    assert response.status_code == 200
    (warning,) = response.json()["warnings"]
    assert warning["service"] == "ledger" and "not one of" in warning["detail"]
    assert not Incident.objects.get().services.exists()


@pytest.mark.parametrize(
    ("date", "expected"),
    [(1795511820000, dt.datetime(2026, 11, 24, 9, 17, tzinfo=dt.UTC)),
     ("1795511820", dt.datetime(2026, 11, 24, 9, 17, tzinfo=dt.UTC)),
     ("2026-11-24T09:17:00Z", dt.datetime(2026, 11, 24, 9, 17, tzinfo=dt.UTC))],
)  # fmt: skip
def test_dates_are_milliseconds_seconds_or_iso(datadog, date, expected):
    assert datadog.post(notification(date=date)).status_code == 200
    assert Incident.objects.get().started_at == expected


def test_an_empty_date_is_the_time_of_receipt(datadog):
    before = dt.datetime.now(dt.UTC)
    datadog.post(notification(date="", last_updated=""))
    assert Incident.objects.get().started_at >= before


# --- Who may deliver --------------------------------------------------------------------------------------------


def test_a_missing_or_wrong_token_is_a_401(datadog):
    assert APIClient().post(URL, notification(), format="json").status_code == 401
    assert bearer("hs_not-a-token-at-all").post(URL, notification(), format="json").status_code == 401
    assert not Incident.objects.exists()


def test_another_sources_hook_token_and_a_read_token_are_refused(datadog, make_hook, team):
    opsgenie = make_hook("opsgenie")
    other_source = bearer(opsgenie.secret).post(URL, notification(), format="json")
    assert other_source.status_code == 403
    _, raw = api_token_create(name="dashboard", team=team, scope=ApiToken.Scope.READ)
    assert bearer(raw).post(URL, notification(), format="json").status_code == 403
    assert not Incident.objects.exists()


def test_a_teams_write_token_delivers_without_a_hook(team):
    _, raw = api_token_create(name="datadog", team=team, scope=ApiToken.Scope.WRITE)
    response = bearer(raw).post(URL, notification(), format="json")
    assert response.status_code == 200, response.json()
    assert Incident.objects.get().team == team


def test_a_switched_off_hook_is_refused(datadog):
    datadog.hook.active = False
    datadog.hook.save()
    assert datadog.post(notification()).status_code == 403
    assert not Incident.objects.exists()


# --- Bodies that are not Datadog's ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b.pop("id"), "id"),
        (lambda b: b.update(id=""), "id"),
        (lambda b: b.update(id="../../etc"), "id"),
        (lambda b: b.update(id=True), "id"),
        (lambda b: b.update(alert_id="x" * 101), "alert_id"),
        (lambda b: b.update(alert_priority="P9"), "alert_priority"),
        (lambda b: b.update(alert_priority="normal"), "alert_priority"),
        (lambda b: b.update(alert_transition=["Triggered"]), "alert_transition"),
        (lambda b: b.update(alert_transition="T" * 51), "alert_transition"),
        (lambda b: b.update(date="yesterday"), "date"),
        (lambda b: b.update(date=-1), "date"),
        (lambda b: b.update(date="7258118400000"), "date"),  # 2200-01-01 in milliseconds
        (lambda b: b.update(date=10**30), "date"),
        (lambda b: b.update(date=1.5e12), "date"),
        (lambda b: b.update(last_updated="2200-01-01T00:00:00Z"), "last_updated"),
        (lambda b: b.update(title=["not", "text"]), "title"),
        (lambda b: b.update(title="x" * 20001), "title"),
        (lambda b: b.update(body="x" * 20001), "body"),
        (lambda b: b.update(tags=["env:prod"]), "tags"),
        (lambda b: b.update(tags=",".join(f"t{n}" for n in range(201))), "tags"),
        (lambda b: b.update(org="Example Shop"), "org"),
        (lambda b: b.update(aggreg_key=42), "aggreg_key"),
    ],
)
def test_a_body_that_is_not_datadogs_is_a_400_naming_the_field(datadog, change, field):
    body = notification()
    change(body)
    response = datadog.post(body)
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Incident.objects.exists() and not HookDelivery.objects.exists()


def test_hostile_bodies_are_refused_without_a_500(datadog):
    deep: dict = {}
    for _ in range(100):
        deep = {"x": deep}
    assert datadog.post({**notification(), "extra": deep}).status_code == 400
    assert datadog.post(b"[" * 5000 + b"]" * 5000).status_code == 400
    assert datadog.post(b"\xff\xfe not utf-8").status_code == 400
    assert datadog.post(b"[]").status_code == 400
    assert datadog.post(b'{"id": "1", "alert_transition": "Triggered", "date": 1' + b"0" * 5000 + b"}")\
        .status_code == 400  # fmt: skip
    assert datadog.post(b"x" * (1024 * 1024 + 1)).status_code == 413
    assert not Incident.objects.exists()


def test_control_characters_and_a_long_title_are_made_one_bounded_line(datadog):
    null = datadog.post(notification(alert_title="Disk\x00 full"))
    assert null.status_code == 400 and "alert_title" in null.json()
    response = datadog.post(notification(alert_title="Disk full\n\ron db-1\x1b[31m \u202egnp." + "x" * 1900))
    assert response.status_code == 200, response.json()
    title = Incident.objects.get().title
    assert len(title) <= 200 and title.isprintable() and title.startswith("Disk full on db-1"), title


def test_without_titles_the_item_is_named_by_the_monitor(datadog):
    datadog.post(notification(alert_title="", title="[Triggered]"))
    assert Incident.objects.get().title == "Datadog alert 148930217"


def test_a_secret_in_the_title_is_redacted(datadog):
    response = datadog.post(notification(alert_title="Deploy failed: AKIAIOSFODNN7EXAMPLE rejected"))
    assert response.json()["redacted"]
    assert "AKIAIOSFODNN7EXAMPLE" not in Incident.objects.get().title
