"""Grafana alerting's webhook contact point: a hook's bearer token; alerts firing and resolved."""

from __future__ import annotations

import copy
import datetime as dt
import json

import pytest
from rest_framework.test import APIClient

from incidents.api import examples as ex
from incidents.models import ApiToken, HookDelivery, Incident
from incidents.services import api_token_create
from tests.factories import ServiceFactory
from tests.receivers.conftest import PAYLOADS, Sender, hook_of, vendored

pytestmark = pytest.mark.django_db

URL = "/api/v1/hooks/grafana/"
FINGERPRINT = ex.GRAFANA["alerts"][0]["fingerprint"]


@pytest.fixture
def grafana(make_hook) -> Sender:
    return Sender(make_hook("grafana"))


def notification(status: str = "firing", **alert) -> dict:
    body = copy.deepcopy(ex.GRAFANA_RESOLVED if status == "resolved" else ex.GRAFANA)
    body["alerts"][0].update(alert)
    return body


def labelled(**labels) -> dict:
    body = notification()
    body["alerts"][0]["labels"] = {"alertname": "Checkout error rate", **labels}
    return body


def grafana_test_alert() -> dict:
    return {
        "status": "firing", "labels": {"alertname": "TestAlert", "grafana_folder": "Test Folder", "instance": "Grafana"},
        "annotations": {"summary": "Notification test"}, "startsAt": "2026-11-24T10:00:01.485120482Z",
        "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "?orgId=1", "fingerprint": "326ea703b01f6100",
        "silenceURL": "", "dashboardURL": "", "panelURL": "", "values": None,
        "valueString": "[ metric='foo' labels={instance=bar} value=10 ]",
    }  # fmt: skip


def bearer(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


# --- The vendor's own bodies ------------------------------------------------------------------------------------

VENDORED = sorted(path.name for path in (PAYLOADS / "grafana").glob("*.json"))


@pytest.mark.parametrize("name", VENDORED)
def test_every_vendored_payload_files_one_item_per_alert(grafana, name):
    body = vendored("grafana", name)
    response = grafana.post(body)
    assert response.status_code in (200, 202), (name, response.json())
    answer = response.json()
    assert answer["errors"] == [] and answer["warnings"] == []
    tests = [alert for alert in body["alerts"] if alert["labels"].get("alertname") == "TestAlert"]
    assert len(answer["created"]) == len(body["alerts"]) - len(tests)
    assert Incident.objects.filter(source="grafana").count() == len(body["alerts"]) - len(tests)
    for alert in body["alerts"]:
        if alert not in tests:
            item = Incident.objects.get(external_id__contains=f"/{alert['fingerprint']}/")
            assert item.title.startswith(alert["labels"]["alertname"])
            assert (item.resolved_at is not None) == (alert["status"] == "resolved")
    assert grafana.post(body).json()["created"] == []  # the same notification again


# --- Firing and resolved ---------------------------------------------------------------------------------------


def test_a_firing_alert_becomes_one_triage_item_with_the_mapped_fields(grafana, team, service, prod):
    response = grafana.post(notification())
    assert response.status_code == 200, response.json()
    (reference,) = response.json()["created"]
    item = Incident.objects.get()
    assert item.reference == reference and item.team == team
    assert (item.status, item.kind, item.source, item.caught_by) == ("triage", "incident", "grafana",
                                                                      "monitoring_alert")  # fmt: skip
    assert item.external_id == f"team{team.pk}/{FINGERPRINT}/2026-11-24T09:16:00.112000+00:00"
    assert item.title == "Checkout error rate: 5xx ratio of checkout-api above 2 %"
    assert item.severity == "sev1"  # severity=critical
    assert item.environment == prod  # env=prod
    assert list(item.services.all()) == [service]  # service=checkout-api
    assert item.started_at == dt.datetime(2026, 11, 24, 9, 16, 0, 112000, tzinfo=dt.UTC)
    assert item.resolved_at is None  # the zero endsAt of a firing alert
    assert "The 5xx ratio of checkout-api was 4.1 %" in item.summary
    assert "Dashboard: https://grafana.example.com/d/checkout?orgId=1" in item.summary
    assert "Panel: https://grafana.example.com/d/checkout?orgId=1&viewPanel=4" in item.summary
    assert "Source: https://grafana.example.com/alerting/grafana/fe2a1c7b/view?orgId=1" in item.summary
    assert "Values: [ var='A' labels={service=checkout-api} value=0.041 ]" in item.summary
    assert hook_of(grafana).last_delivery_at is not None


def test_values_are_shown_when_grafana_sends_no_value_string(grafana):
    grafana.post(
        notification(valueString="", values={"A": 0.041, "C": 1}, imageURL="https://img.example.com/p.png")
    )
    summary = Incident.objects.get().summary
    assert "Values: A=0.041, C=1\nImage: https://img.example.com/p.png" in summary


def test_the_same_notification_again_changes_nothing(grafana):
    first = grafana.post(notification()).json()["created"]
    again = grafana.post(notification())
    assert again.status_code == 200
    assert again.json()["created"] == [] and again.json()["unchanged"] == first
    assert Incident.objects.count() == 1
    assert [row.outcome for row in HookDelivery.objects.order_by("id")] == ["recorded", "unchanged"]


def test_resolved_sets_the_resolved_time_once(grafana):
    (reference,) = grafana.post(notification()).json()["created"]
    response = grafana.post(notification("resolved"))
    assert response.status_code == 200 and response.json()["resolved"] == [reference]
    item = Incident.objects.get()
    assert item.resolved_at == dt.datetime(2026, 11, 24, 9, 41, tzinfo=dt.UTC)
    later = grafana.post(notification("resolved", endsAt="2026-11-24T10:30:00Z"))
    assert later.json()["unchanged"] == [reference]
    assert Incident.objects.get().resolved_at == item.resolved_at


def test_an_alert_first_heard_of_as_resolved_is_filed_resolved(grafana):
    response = grafana.post(notification("resolved"))
    assert len(response.json()["created"]) == 1
    assert Incident.objects.get().resolved_at == dt.datetime(2026, 11, 24, 9, 41, tzinfo=dt.UTC)


def test_a_new_firing_period_is_a_new_item(grafana):
    grafana.post(notification())
    grafana.post(notification("resolved"))
    response = grafana.post(notification(startsAt="2026-11-24T13:02:00Z"))
    assert len(response.json()["created"]) == 1
    assert Incident.objects.count() == 2


def test_an_alert_without_a_fingerprint_is_keyed_by_its_labels(grafana):
    body = notification()
    del body["alerts"][0]["fingerprint"]
    (reference,) = grafana.post(body).json()["created"]
    assert grafana.post(body).json()["unchanged"] == [reference]


def test_each_alert_of_a_notification_is_an_item(grafana):
    body = notification()
    body["alerts"].append({**body["alerts"][0], "fingerprint": "0a1b2c3d4e5f6071",
                           "labels": {**body["alerts"][0]["labels"], "alertname": "Checkout latency"}})  # fmt: skip
    response = grafana.post(body)
    assert len(response.json()["created"]) == 2
    assert sorted(Incident.objects.values_list("title", flat=True)) == [
        "Checkout error rate: 5xx ratio of checkout-api above 2 %",
        "Checkout latency: 5xx ratio of checkout-api above 2 %",
    ]


# --- Grafana's test notification -------------------------------------------------------------------------------


def test_the_contact_points_test_notification_is_answered_202_and_ignored(grafana):
    body = notification()
    body["alerts"] = [grafana_test_alert()]
    response = grafana.post(body)
    assert response.status_code == 202
    assert response.json()["detail"] == "Grafana's test notification ignored."
    assert not Incident.objects.exists()
    assert HookDelivery.objects.get().outcome == "ignored"


def test_a_real_alert_named_like_the_test_one_is_not_ignored(grafana):
    body = notification()
    body["alerts"] = [{**grafana_test_alert(), "annotations": {"summary": "Disk of Grafana full"}}]
    assert grafana.post(body).status_code == 200
    assert Incident.objects.count() == 1


def test_an_empty_notification_records_nothing(grafana):
    body = notification()
    body["alerts"] = []
    response = grafana.post(body)
    assert response.status_code == 202 and not Incident.objects.exists()


# --- Severity, environment, service: Alertmanager's label settings -----------------------------------------------


@pytest.mark.parametrize(
    ("labels", "severity"),
    [({"severity": "critical"}, "sev1"), ({"severity": "warning"}, "sev3"), ({"severity": "P2"}, "sev2"),
     ({"severity": "info"}, "sev4"), ({"severity": "purple"}, ""), ({}, "")],
)  # fmt: skip
def test_severity_is_the_severity_label(grafana, labels, severity):
    assert grafana.post(labelled(**labels)).status_code == 200
    assert Incident.objects.get().severity == severity


def test_the_label_settings_are_alertmanagers(grafana, settings, team, staging):
    settings.ALERTMANAGER_SEVERITY_LABELS = ["priority"]
    settings.ALERTMANAGER_ENVIRONMENT_LABELS = ["stage"]
    settings.ALERTMANAGER_SERVICE_LABELS = ["component"]
    ServiceFactory(slug="payments-core", owner_team=team)
    grafana.post(labelled(priority="high", stage="staging", component="payments-core", severity="critical"))
    item = Incident.objects.get()
    assert (item.severity, item.environment) == ("sev2", staging)
    assert list(item.services.values_list("slug", flat=True)) == ["payments-core"]


def test_the_hooks_environment_map_and_its_default_apply(make_hook, prod, staging):
    hook = Sender(make_hook("grafana", name="mapped", environment_map={"production": "prod", "*": "staging"}))
    hook.post(labelled(env="production"))
    hook.post(notification(fingerprint="1111111111111111", labels={"alertname": "No env"}))
    first, second = Incident.objects.order_by("number")
    assert (first.environment, second.environment) == (prod, staging)


def test_another_teams_service_is_left_out_with_a_warning(grafana, other_team):
    ServiceFactory(slug="ledger", name="Ledger", owner_team=other_team)
    response = grafana.post(labelled(service="ledger"))
    assert response.status_code == 200
    (warning,) = response.json()["warnings"]
    assert warning["fingerprint"] == FINGERPRINT and "not one of" in warning["detail"]
    assert not Incident.objects.get().services.exists()


# --- Who may deliver -------------------------------------------------------------------------------------------


def test_a_missing_or_wrong_token_is_a_401(grafana):
    assert APIClient().post(URL, notification(), format="json").status_code == 401
    assert bearer("hs_not-a-token-at-all").post(URL, notification(), format="json").status_code == 401
    assert not Incident.objects.exists()


def test_another_sources_hook_token_and_a_read_token_are_refused(grafana, make_hook, team):
    opsgenie = make_hook("opsgenie")
    other_source = bearer(opsgenie.secret).post(URL, notification(), format="json")
    assert other_source.status_code == 403
    assert "accepted only at /api/v1/hooks/opsgenie/" in other_source.json()["detail"]
    _, raw = api_token_create(name="dashboard", team=team, scope=ApiToken.Scope.READ)
    assert bearer(raw).post(URL, notification(), format="json").status_code == 403
    assert not Incident.objects.exists()


def test_a_teams_write_token_delivers_without_a_hook(team):
    _, raw = api_token_create(name="grafana", team=team, scope=ApiToken.Scope.WRITE)
    response = bearer(raw).post(URL, notification(), format="json")
    assert response.status_code == 200, response.json()
    assert Incident.objects.get().team == team


def test_two_teams_hooks_keep_their_own_items(grafana, make_hook, other_team):
    other = Sender(make_hook("grafana", name="platform", team=other_team))
    grafana.post(notification())
    other.post(notification())
    other.post(notification("resolved"))
    items = {item.team.slug: item for item in Incident.objects.all()}
    assert sorted(items) == ["payments", "platform"]
    assert items["payments"].resolved_at is None and items["platform"].resolved_at is not None


# --- Limits ----------------------------------------------------------------------------------------------------


def test_more_alerts_than_alertmanager_max_alerts_is_a_400(grafana, settings):
    settings.ALERTMANAGER_MAX_ALERTS = 1
    body = notification()
    body["alerts"].append({**body["alerts"][0], "fingerprint": "0a1b2c3d4e5f6071"})
    response = grafana.post(body)
    assert response.status_code == 400
    assert "at most 1 alerts (ALERTMANAGER_MAX_ALERTS)" in response.json()["alerts"][0]
    assert not Incident.objects.exists()


def test_each_alert_counts_against_the_write_throttle(grafana, settings):
    settings.API_WRITE_THROTTLE_RATE = "3/min"
    body = notification()
    body["alerts"].append({**body["alerts"][0], "fingerprint": "0a1b2c3d4e5f6071"})
    assert grafana.post(body).status_code == 200  # 2 writes
    for alert in body["alerts"]:
        alert["startsAt"] = "2026-11-24T12:00:00Z"
    refused = grafana.post(body)  # 2 more: past 3 a minute
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert Incident.objects.count() == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b.update(version="4"), "version"),  # an Alertmanager body sent to Grafana's door
        (lambda b: b.pop("version"), "version"),
        (lambda b: b.pop("alerts"), "alerts"),
        (lambda b: b.update(alerts={"status": "firing"}), "alerts"),
        (lambda b: b.update(status="pending"), "status"),
        (lambda b: b.update(orgId="1"), "orgId"),
        (lambda b: b.update(orgId=10**30), "orgId"),
        (lambda b: b.update(truncatedAlerts=-1), "truncatedAlerts"),
        (lambda b: b["alerts"][0].pop("startsAt"), "alerts"),
        (lambda b: b["alerts"][0].update(startsAt="3000-01-01T00:00:00Z"), "alerts"),
        (lambda b: b["alerts"][0].update(startsAt="0001-01-01T00:00:00Z"), "alerts"),
        (lambda b: b["alerts"][0].update(startsAt=1795511940000), "alerts"),
        (lambda b: b["alerts"][0].update(endsAt="2999-01-01T00:00:00Z"), "alerts"),
        (lambda b: b["alerts"][0].update(status="pending"), "alerts"),
        (lambda b: b["alerts"][0].update(labels=["alertname"]), "alerts"),
        (lambda b: b["alerts"][0].update(labels={"alertname": "a\nb"}), "alerts"),
        (lambda b: b["alerts"][0].update(labels={"bad\x00name": "x"}), "alerts"),
        (lambda b: b["alerts"][0].update(labels={"alertname": 42}), "alerts"),
        (lambda b: b["alerts"][0].update(fingerprint="../../etc"), "alerts"),
        (lambda b: b["alerts"][0].update(values={"A": "high"}), "alerts"),
        (lambda b: b["alerts"][0].update(values={f"V{n}": 1 for n in range(101)}), "alerts"),
        (lambda b: b["alerts"][0].update(valueString="x" * 5001), "alerts"),
        (lambda b: b["alerts"][0].update(dashboardURL="https://x/" + "x" * 2000), "alerts"),
        (lambda b: b["alerts"][0]["annotations"].update(summary="x" * 20001), "alerts"),
    ],
)
def test_a_body_that_is_not_grafanas_is_a_400_naming_the_field(grafana, change, field):
    body = notification()
    change(body)
    response = grafana.post(body)
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Incident.objects.exists() and not HookDelivery.objects.exists()


def test_hostile_bodies_are_refused_without_a_500(grafana):
    assert grafana.post(b"[" * 5000 + b"]" * 5000).status_code == 400
    assert grafana.post(b"\xff\xfe not utf-8").status_code == 400
    assert grafana.post(b"[]").status_code == 400
    huge = b'{"version": "1", "status": "firing", "alerts": [], "orgId": 1' + b"0" * 5000 + b"}"
    assert grafana.post(huge).status_code == 400
    infinite = notification()
    infinite["alerts"][0]["values"] = {"A": 1}
    raw = json.dumps(infinite).replace('{"A": 1}', '{"A": 1e999}').encode()
    assert grafana.post(raw).status_code == 400
    assert grafana.post(b"x" * (1024 * 1024 + 1)).status_code == 413
    assert not Incident.objects.exists()


def test_control_characters_and_a_long_title_are_made_one_bounded_line(grafana):
    body = notification()
    body["alerts"][0]["annotations"]["summary"] = "Disk full\n\ron db-1\x1b[31m \u202egnp." + "x" * 5000
    response = grafana.post(body)
    assert response.status_code == 200, response.json()
    title = Incident.objects.get().title
    assert len(title) <= 200 and title.isprintable() and title.startswith("Checkout error rate: Disk full on db-1")


def test_a_secret_in_an_annotation_is_redacted(grafana):
    body = notification()
    body["alerts"][0]["annotations"]["summary"] = "Deploy failed: AKIAIOSFODNN7EXAMPLE rejected"
    response = grafana.post(body)
    assert response.json()["redacted"]
    assert "AKIAIOSFODNN7EXAMPLE" not in Incident.objects.get().title
