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


# --- The vendor's own bodies (tests/payloads/grafana/, origin in its NOTICE.md) --------------------------------

LEGACY = "legacy_alert.json"  # Grafana 7's legacy alerting body: no `alerts`
VENDORED = sorted(path.name for path in (PAYLOADS / "grafana").glob("*.json") if path.name != LEGACY)


def grafana_body(name: str, **alert) -> dict:
    """A vendored notification, its first alert's fields changed by `alert` (None removes one)."""
    body = vendored("grafana", name)
    for key, value in alert.items():
        if value is None:
            body["alerts"][0].pop(key)
        else:
            body["alerts"][0][key] = value
    return body


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


@pytest.mark.parametrize("name", VENDORED)
def test_every_vendored_payload_files_one_item_per_alert(grafana, name):
    body = vendored("grafana", name)
    response = grafana.post(body)
    assert response.status_code in (200, 202), (name, response.json())
    answer = response.json()
    assert answer["errors"] == []
    truncated = [warning["truncatedAlerts"] for warning in answer["warnings"]]
    assert truncated == ([body["truncatedAlerts"]] if body["truncatedAlerts"] else [])
    tests = [alert for alert in body["alerts"] if alert["labels"].get("alertname") == "TestAlert"]
    assert len(answer["created"]) == len(body["alerts"]) - len(tests)
    assert Incident.objects.filter(source="grafana").count() == len(body["alerts"]) - len(tests)
    for alert in body["alerts"]:
        if alert not in tests:
            item = Incident.objects.get(external_id__contains=f"/{alert['fingerprint']}/")
            assert item.title.startswith(alert["labels"]["alertname"])
            assert (item.resolved_at is not None) == (alert["status"] == "resolved")
    assert grafana.post(body).json()["created"] == []  # the same notification again


def test_the_vendored_firing_alert_maps_each_field(grafana, team):
    response = grafana.post(vendored("grafana", "alert-9.json"))
    assert response.status_code == 200, response.json()
    answer = response.json()
    assert (answer["errors"], answer["warnings"], answer["redacted"]) == ([], [], {})
    item = Incident.objects.get()
    assert answer["created"] == [item.reference]
    assert item.external_id == f"team{team.pk}/d8a21484c9c25a60/2022-06-17T00:41:00.782137+00:00"
    assert item.title == "Test alert: This is a summary field, failure on some_host"
    assert item.severity == "" and item.environment is None and not item.services.exists()  # no such labels
    assert item.started_at == at("2022-06-17T00:41:00.782137+00:00") == item.detected_at
    assert item.resolved_at is None  # endsAt is Grafana's zero time
    assert item.summary == (
        "This is a description\n\nLabels: alertname=Test alert, test=true\n\n"
        "Source: https://grafana.example.com/alerting/grafana/zTjxv_C7k/view\n\n"
        "Values: [ var='B0' metric='Value' labels={__name__=some_metric, instance=some-value, job=jobname} "
        "value=24 ]"
    )


def test_the_vendored_firing_then_resolved_alert_resolves_its_item(grafana):
    (reference,) = grafana.post(vendored("grafana", "alert-9.json")).json()["created"]
    response = grafana.post(vendored("grafana", "alert-9-resolved.json"))
    assert response.status_code == 200 and response.json()["resolved"] == [reference]
    item = Incident.objects.get()
    assert item.resolved_at == at("2022-06-17T00:51:24.067337+00:00")
    assert item.title == "Test alert: This is a summary field, failure on some_host"  # the first one is kept
    assert grafana.post(vendored("grafana", "alert-9-resolved.json")).json()["unchanged"] == [reference]
    assert grafana.post(vendored("grafana", "alert-9.json")).json()["unchanged"] == [reference]
    assert Incident.objects.get().resolved_at == item.resolved_at


def test_the_vendored_resolved_alert_first_is_filed_resolved(grafana):
    response = grafana.post(vendored("grafana", "alert-9-resolved.json"))
    assert len(response.json()["created"]) == 1
    item = Incident.objects.get()
    assert (item.started_at, item.resolved_at) == (at("2022-06-17T00:41:00.782137+00:00"),
                                                   at("2022-06-17T00:51:24.067337+00:00"))  # fmt: skip
    assert item.title == "Test alert: This is a summary field, failure on <no value>"


def test_the_vendored_notification_of_three_alerts_files_three_items(grafana):
    response = grafana.post(vendored("grafana", "alert-9-multiple.json"))
    assert response.status_code == 200 and len(response.json()["created"]) == 3
    titles = dict(Incident.objects.values_list("external_id", "title"))
    assert sorted(titles.values()) == [
        "Second webhook test: Testing **another** failing alert",
        "Test alert: This is a summary field, failure on badhost.example.com",
        "Test alert: This is a summary field, failure on otherhost.example.com",
    ]
    second = Incident.objects.get(external_id__contains="/6f9cd313db421ef1/")
    assert second.started_at == at("2022-06-17T01:03:00.782137+00:00")
    assert "Description **here**" in second.summary


def test_the_vendored_labels_name_environment_and_service_through_the_settings(grafana, settings, team, prod):
    settings.ALERTMANAGER_ENVIRONMENT_LABELS = ["deploy"]
    settings.ALERTMANAGER_SERVICE_LABELS = ["job"]
    rabbitmq = ServiceFactory(slug="rabbitmq", owner_team=team)
    grafana.post(vendored("grafana", "alert-9-multiple.json"))
    for fingerprint in ("aaafafe0953f0962", "fb31814ac93dbe7d"):  # deploy=prod, job=rabbitmq
        item = Incident.objects.get(external_id__contains=f"/{fingerprint}/")
        assert item.environment == prod and list(item.services.all()) == [rabbitmq]
    second = Incident.objects.get(external_id__contains="/6f9cd313db421ef1/")  # neither label
    assert second.environment is None and not second.services.exists()


def test_the_vendored_values_image_dashboard_and_panel_are_in_the_summary(grafana):
    grafana.post(vendored("grafana", "alert_values_v11.json"))
    item = Incident.objects.get()
    assert item.title == "Memory (copy): High memory usage"
    assert item.started_at == at("2024-03-01T02:09:00+00:00")
    for line in (
        "Labels: alertname=Memory (copy), debug=true, grafana_folder=device",
        "Dashboard: https://play.grafana.org/d/ece9fb32-7f71-4be9-bd94-2f23608ae5b9?orgId=1",
        "Panel: https://play.grafana.org/d/ece9fb32-7f71-4be9-bd94-2f23608ae5b9?orgId=1&viewPanel=2",
        "Values: [ var='A' labels={instance=node_exporter:9100, job=node} value=2.473545728e+09 ]",
        "Image: https://grafana.com/assets/img/blog/mixed_styles.png",
    ):
        assert line in item.summary


def test_the_vendored_values_are_shown_without_a_value_string(grafana):
    grafana.post(grafana_body("alert_values_v11.json", valueString=None))
    assert "Values: A=2.47355e+09, B=0, C=1, minute=9" in Incident.objects.get().summary


def test_the_vendored_test_notification_is_a_202_and_warns_of_the_alert_left_out(grafana):
    """Grafana 8's test notification: the TestAlert, resolved, with truncatedAlerts 1."""
    response = grafana.post(vendored("grafana", "alert_v8.json"))
    assert response.status_code == 202
    answer = response.json()
    assert answer["detail"] == "Grafana's test notification ignored." and answer["created"] == []
    (warning,) = answer["warnings"]
    assert warning["truncatedAlerts"] == 1 and warning["detail"].startswith("Grafana left 1 alert out of")
    assert not Incident.objects.exists() and HookDelivery.objects.get().outcome == "ignored"


def test_alerts_grafana_left_out_are_named_in_a_warning(grafana):
    body = vendored("grafana", "alert-9-multiple.json")
    body["truncatedAlerts"] = 7
    response = grafana.post(body)
    assert response.status_code == 200 and len(response.json()["created"]) == 3
    (warning,) = response.json()["warnings"]
    assert warning == {
        "truncatedAlerts": 7,
        "detail": "Grafana left 7 alerts out of this notification (the contact point's Max Alerts); they are not "
        "recorded unless a later notification carries them. Raise Max Alerts, up to ALERTMANAGER_MAX_ALERTS.",
    }


def test_the_legacy_alerting_body_is_a_400_saying_why(grafana):
    response = grafana.post(vendored("grafana", LEGACY))
    assert response.status_code == 400
    (detail,) = response.json()["version"]
    assert detail.startswith("This is the body of Grafana's legacy alerting") and 'version "1"' in detail
    assert not Incident.objects.exists() and not HookDelivery.objects.exists()


def test_a_vendored_alert_with_another_fingerprint_or_start_is_another_item(grafana):
    grafana.post(vendored("grafana", "alert-9.json"))
    assert len(grafana.post(grafana_body("alert-9.json", fingerprint="d8a21484c9c25a61")).json()["created"]) == 1
    later = grafana_body("alert-9.json", startsAt="2022-06-17T02:41:00.782137894Z")
    assert len(grafana.post(later).json()["created"]) == 1  # a new firing period of the same alert
    assert Incident.objects.count() == 3


@pytest.mark.parametrize(
    ("removed", "title"),
    [
        ({"annotations": None}, "Test alert"),
        ({"labels": {"test": "true"}}, "Alert d8a21484c9c25a60: This is a summary field, failure on some_host"),
        ({"generatorURL": None, "silenceURL": None, "dashboardURL": None, "panelURL": None, "valueString": None},
         "Test alert: This is a summary field, failure on some_host"),
    ],
)  # fmt: skip
def test_vendored_fields_removed_leave_their_fields_empty(grafana, removed, title):
    response = grafana.post(grafana_body("alert-9.json", **removed))
    assert response.status_code == 200, response.json()
    item = Incident.objects.get()
    assert item.title == title
    if "valueString" in removed:
        assert item.summary == "This is a description\n\nLabels: alertname=Test alert, test=true"


def test_a_vendored_alert_without_a_fingerprint_is_keyed_by_its_labels(grafana):
    body = grafana_body("alert-9.json", fingerprint=None)
    (reference,) = grafana.post(body).json()["created"]
    assert grafana.post(body).json()["unchanged"] == [reference]
    resolved = grafana_body("alert-9-resolved.json", fingerprint=None)
    assert grafana.post(resolved).json()["resolved"] == [reference]


def test_a_vendored_resolved_alert_without_ends_at_resolves_when_received(grafana):
    grafana.post(vendored("grafana", "alert-9.json"))
    before = dt.datetime.now(dt.UTC)
    assert len(grafana.post(grafana_body("alert-9-resolved.json", endsAt=None)).json()["resolved"]) == 1
    assert Incident.objects.get().resolved_at >= before


@pytest.mark.parametrize(
    "alert",
    [
        {"labels": {"alertname": "Test alert\nFIRING", "test": "true"}},
        {"labels": {"alertname": "Test alert", "te\x00st": "true"}},
        {"labels": {"alertname": "T" * 2001}},
        {"annotations": {"summary": "s" * 20001}},
        {"valueString": "v" * 5001},
        {"silenceURL": "https://grafana.example.com/" + "s" * 2000},
        {"fingerprint": "d8a21484-c9c25a60"},
        {"startsAt": "2022-06-17 garbage"},
        {"status": "pending"},
        {"values": {"A": "2473545728"}},
    ],
)
def test_a_vendored_alert_changed_out_of_bounds_is_a_400_naming_alerts(grafana, alert):
    response = grafana.post(grafana_body("alert-9.json", **alert))
    assert response.status_code == 400, response.content
    assert "alerts" in response.json()
    assert not Incident.objects.exists() and not HookDelivery.objects.exists()


def test_a_vendored_truncated_alerts_out_of_bounds_is_a_400(grafana):
    for value in (-1, "1", 2**31, None):
        body = vendored("grafana", "alert-9.json")
        body["truncatedAlerts"] = value
        response = grafana.post(body)
        assert response.status_code == 400 and "truncatedAlerts" in response.json(), value
    assert not Incident.objects.exists()


def test_vendored_control_characters_and_an_oversized_summary_become_one_bounded_line(grafana):
    summary = "This is a summary field,\n\rfailure on some_host\x1b[31m \u202e." + "x" * 5000
    response = grafana.post(grafana_body("alert-9.json", annotations={"summary": summary}))
    assert response.status_code == 200, response.json()
    title = Incident.objects.get().title
    assert 150 < len(title) <= 200 and title.isprintable()
    assert title.startswith("Test alert: This is a summary field, failure on some_host")


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
