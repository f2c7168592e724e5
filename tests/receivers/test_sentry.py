"""Sentry integration-platform webhooks: signed per hook; issues, issue alerts and metric alerts."""

from __future__ import annotations

import copy
import datetime as dt
import json

import pytest

from incidents.api import examples as ex
from incidents.api.receivers.sentry import sentry_signature
from incidents.models import HookDelivery, Incident
from tests.factories import ServiceFactory
from tests.receivers.conftest import PAYLOADS, Sender, hook_of, vendored

pytestmark = pytest.mark.django_db


def sign(secret: str, body: bytes) -> dict[str, str]:
    return {"Sentry-Hook-Signature": sentry_signature(secret, body), "Sentry-Hook-Timestamp": "1795511861"}


@pytest.fixture
def sentry(make_hook) -> Sender:
    return Sender(make_hook("sentry", secret="a-sentry-client-secret"), sign)


def deliver(sender: Sender, body, resource: str = "issue", request_id: str | None = None):
    headers = {"Sentry-Hook-Resource": resource}
    if request_id is not None:
        headers["Request-ID"] = request_id
    return sender.post(body, headers=headers)


def issue(action: str = "created", **fields) -> dict:
    body = copy.deepcopy(ex.SENTRY_ISSUE_CREATED)
    body["action"] = action
    body["data"]["issue"].update(fields)
    return body


def event_alert(**fields) -> dict:
    body = vendored("sentry", "event_for_exception_python.json")
    body["data"]["event"].update(fields)
    return body


def metric_alert(action: str = "critical", **fields) -> dict:
    return {
        "action": action,
        "actor": {"id": "sentry", "name": "Sentry", "type": "application"},
        "data": {
            "description_text": "1000 events in the last 10 minutes\nFilter: level:error",
            "description_title": f"{action.title()}: Too many errors",
            "metric_alert": {
                "alert_rule": {"id": "7", "name": "Too many errors", "environment": "prod",
                               "projects": ["checkout-api"], "triggers": []},
                "date_closed": None,
                "date_started": "2026-11-24T09:20:00.000000Z",
                "date_detected": "2026-11-24T09:20:00.000000Z",
                "id": "4",
                "identifier": "1",
                "projects": ["checkout-api"],
                "status": 2,
                "title": "Sacred Marmot",
                **fields,
            },
            "web_url": "https://example-shop.sentry.io/alerts/rules/details/7/",
        },
        "installation": {"uuid": "a8e5d37a-696c-4c54-adb5-b3f28d64c7de"},
    }  # fmt: skip


# --- The vendor's own bodies ------------------------------------------------------------------------------------

VENDORED = sorted(path.name for path in (PAYLOADS / "sentry").glob("*.json"))
RESOURCES = {"event_for_exception_python.json": "event_alert"}


def test_the_vendored_payloads_are_present():
    assert {"issue_created_for_exception.json", "issue_resolved.json", "event_for_exception_python.json"} <= set(
        VENDORED
    )


@pytest.mark.parametrize("name", VENDORED)
def test_every_vendored_payload_is_answered_as_its_action_says(sentry, name):
    body = vendored("sentry", name)
    response = deliver(sentry, body, RESOURCES.get(name, "issue"), request_id=f"req-{name}")
    read = body["action"] in ("created", "unresolved", "resolved", "triggered")
    assert response.status_code == (200 if read else 202), (name, response.json())
    answer = response.json()
    assert answer["errors"] == [] and answer["warnings"] == []
    if read:
        (reference,) = answer["created"]
        item = Incident.objects.get()
        assert item.reference == reference and item.source == "sentry" and item.title
        assert (item.resolved_at is not None) == (body["action"] == "resolved")
        again = deliver(sentry, body, RESOURCES.get(name, "issue"), request_id=f"req-{name}-2")
        assert again.json()["unchanged"] == [reference]
    else:
        assert answer["detail"] == f"Event 'issue.{body['action']}' ignored."
        assert not Incident.objects.exists()


def test_a_created_issue_becomes_one_triage_item_with_the_mapped_fields(sentry, team, service):
    response = deliver(sentry, issue(), request_id="8c5fb3c5-0c2e-4ab4-9c0a-5b6de0f6f4a1")
    assert response.status_code == 200, response.json()
    (reference,) = response.json()["created"]
    item = Incident.objects.get()
    assert item.reference == reference and item.team == team
    assert (item.status, item.kind, item.source, item.caught_by) == ("triage", "incident", "sentry",
                                                                      "monitoring_alert")  # fmt: skip
    assert item.external_id == f"team{team.pk}/issue/4711093826"
    assert item.title == "TimeoutError: payment provider did not answer within 2 s"
    assert item.severity == "sev2"  # level error
    assert list(item.services.all()) == [service]  # the project slug checkout-api
    assert item.started_at == dt.datetime(2026, 11, 24, 9, 17, 41, 208000, tzinfo=dt.UTC)  # firstSeen
    assert "Sentry issue CHECKOUT-API-3F (created)" in item.summary
    assert "Link: https://example-shop.sentry.io/issues/4711093826/" in item.summary
    assert hook_of(sentry).last_delivery_at is not None
    assert HookDelivery.objects.get(source="sentry").delivery_id == "8c5fb3c5-0c2e-4ab4-9c0a-5b6de0f6f4a1"


def test_the_same_request_id_again_changes_nothing_and_says_so(sentry):
    deliver(sentry, issue(), request_id="req-1")
    again = deliver(sentry, issue(), request_id="req-1")
    assert again.status_code == 200
    assert again.json()["detail"] == "Delivery req-1 already received." and again.json()["created"] == []
    assert Incident.objects.count() == 1
    assert HookDelivery.objects.get(source="sentry").repeats == 1


def test_without_a_request_id_the_issue_recognises_a_copy(sentry):
    (reference,) = deliver(sentry, issue()).json()["created"]
    assert deliver(sentry, issue()).json()["unchanged"] == [reference]


def test_a_resolved_issue_resolves_the_item_once(sentry):
    (reference,) = deliver(sentry, issue()).json()["created"]
    before = dt.datetime.now(dt.UTC)
    resolved = deliver(sentry, issue("resolved", status="resolved"))
    assert resolved.status_code == 200 and resolved.json()["resolved"] == [reference]
    item = Incident.objects.get()
    assert item.resolved_at >= before  # Sentry sends no time of resolution: the time of receipt
    assert deliver(sentry, issue("resolved", status="resolved")).json()["unchanged"] == [reference]
    assert Incident.objects.get().resolved_at == item.resolved_at


def test_an_unresolved_issue_not_heard_of_is_filed_and_a_known_one_unchanged(sentry):
    created = deliver(sentry, issue("unresolved", substatus="regressed"))
    assert created.status_code == 200 and len(created.json()["created"]) == 1
    assert deliver(sentry, issue("unresolved")).json()["unchanged"] == created.json()["created"]


@pytest.mark.parametrize("action", ["assigned", "archived", "ignored", "deleted"])
def test_other_issue_actions_are_accepted_and_ignored(sentry, action):
    response = deliver(sentry, issue(action))
    assert response.status_code == 202
    assert response.json()["detail"] == f"Event 'issue.{action}' ignored."
    assert not Incident.objects.exists()
    assert HookDelivery.objects.get().outcome == "ignored"


@pytest.mark.parametrize(("resource", "action"), [("installation", "created"), ("error", "created"),
                                                  ("comment", "created"), ("seer", "root_cause_started")])  # fmt: skip
def test_other_resources_are_accepted_and_ignored(sentry, resource, action):
    response = deliver(sentry, {"action": action, "data": {"installation": {"uuid": "x"}}}, resource)
    assert response.status_code == 202
    assert response.json()["detail"] == f"Event '{resource}.{action}' ignored."
    assert not Incident.objects.exists()


@pytest.mark.parametrize(
    ("level", "severity"),
    [("fatal", "sev1"), ("error", "sev2"), ("warning", "sev3"), ("info", "sev4"), ("debug", "sev4"),
     ("sample", ""), ("", "")],
)  # fmt: skip
def test_severity_is_the_level(sentry, level, severity):
    assert deliver(sentry, issue(level=level)).status_code == 200
    assert Incident.objects.get().severity == severity


# --- Issue alerts -----------------------------------------------------------------------------------------------


def test_an_issue_alert_files_the_item_of_its_issue(sentry, team, staging):
    ServiceFactory(slug="zulip-integration-testing", owner_team=team)
    response = deliver(sentry, event_alert(environment="staging"), "event_alert")
    assert response.status_code == 200, response.json()
    item = Incident.objects.get()
    assert item.external_id == f"team{team.pk}/issue/1635244907"  # issue_url names the issue
    assert item.title == "Exception: Custom exception!"
    assert item.severity == "sev2" and item.environment == staging
    assert list(item.services.values_list("slug", flat=True)) == ["zulip-integration-testing"]  # from the url
    assert item.started_at == dt.datetime(2020, 4, 28, 13, 56, 5, 903736, tzinfo=dt.UTC)
    assert "Send a webhook payload to Webhook.site" in item.summary
    assert "https://sentry.io/organizations/hypro999-personal-organization/issues/1635244907/" in item.summary


def test_an_issue_alert_and_the_issue_are_one_item(sentry):
    body = event_alert(issue_id="4711093826", issue_url="")
    (reference,) = deliver(sentry, body, "event_alert").json()["created"]
    assert deliver(sentry, issue()).json()["unchanged"] == [reference]
    assert deliver(sentry, issue("resolved")).json()["resolved"] == [reference]


def test_the_environment_of_an_issue_alert_is_its_tag_when_no_field(sentry, prod):
    body = event_alert(tags=[["level", "warning"], ["environment", "prod"]], level="")
    deliver(sentry, body, "event_alert")
    item = Incident.objects.get()
    assert item.environment == prod and item.severity == "sev3"


def test_an_issue_alert_without_its_issue_is_a_400_naming_the_field(sentry):
    body = event_alert(issue_url="https://sentry.io/api/0/events/")
    response = deliver(sentry, body, "event_alert")
    assert response.status_code == 400
    assert "issue_id" in response.json()["data"]["event"]
    assert not Incident.objects.exists()


# --- Metric alerts ----------------------------------------------------------------------------------------------


def test_a_critical_metric_alert_files_an_item_and_resolved_resolves_it(sentry, team, service, prod):
    response = deliver(sentry, metric_alert(), "metric_alert")
    assert response.status_code == 200, response.json()
    item = Incident.objects.get()
    assert item.external_id == f"team{team.pk}/metric_alert/4"
    assert item.title == "Too many errors" and item.severity == "sev2"
    assert item.environment == prod and list(item.services.all()) == [service]
    assert "1000 events in the last 10 minutes" in item.summary
    closed = metric_alert("resolved", date_closed="2026-11-24T09:50:00Z")
    assert deliver(sentry, closed, "metric_alert").json()["resolved"] == [item.reference]
    assert Incident.objects.get().resolved_at == dt.datetime(2026, 11, 24, 9, 50, tzinfo=dt.UTC)


def test_a_warning_metric_alert_is_sev3_and_the_same_alert_one_item(sentry):
    (reference,) = deliver(sentry, metric_alert("warning"), "metric_alert").json()["created"]
    assert Incident.objects.get().severity == "sev3"
    assert deliver(sentry, metric_alert("critical"), "metric_alert").json()["unchanged"] == [reference]


def test_a_metric_alert_and_an_issue_with_the_same_id_are_two_items(sentry):
    deliver(sentry, metric_alert(id="4711093826"), "metric_alert")
    deliver(sentry, issue())
    assert Incident.objects.count() == 2


# --- Who may deliver --------------------------------------------------------------------------------------------


def test_signatures_are_checked_against_this_sources_hooks(sentry, make_hook):
    body = json.dumps(issue()).encode()
    post = sentry.client.post
    headers = {"Sentry-Hook-Resource": "issue"}
    wrong = post(
        sentry.url,
        body,
        content_type="application/json",
        headers={**headers, "Sentry-Hook-Signature": sentry_signature("not-the-secret", body)},
    )
    missing = post(sentry.url, body, content_type="application/json", headers=headers)
    pagerduty = make_hook("pagerduty", secret="a-pagerduty-secret")
    other_source = post(
        sentry.url,
        body,
        content_type="application/json",
        headers={**headers, "Sentry-Hook-Signature": sentry_signature(pagerduty.secret, body)},
    )
    altered = post(
        sentry.url,
        body.replace(b"created", b"resolved"),
        content_type="application/json",
        headers={**headers, "Sentry-Hook-Signature": sentry_signature(sentry.secret, body)},
    )
    assert (wrong.status_code, missing.status_code, other_source.status_code, altered.status_code) == (401,) * 4
    assert not Incident.objects.exists()  # fmt: skip


def test_a_switched_off_hook_is_refused(sentry):
    sentry.hook.active = False
    sentry.hook.save()
    assert deliver(sentry, issue()).status_code == 401


def test_another_teams_service_is_left_out_with_a_warning(sentry, other_team):
    ServiceFactory(slug="ledger", name="Ledger", owner_team=other_team)
    response = deliver(sentry, issue(project={"slug": "ledger", "name": "Ledger", "id": "9"}))
    assert response.status_code == 200
    (warning,) = response.json()["warnings"]
    assert warning["service"] == "ledger" and "not one of" in warning["detail"]
    assert not Incident.objects.get().services.exists()


def test_the_hooks_service_and_environment_map_apply(make_hook, team, prod):
    own = ServiceFactory(slug="payments-core", owner_team=team)
    hook = Sender(make_hook("sentry", secret="another-client-secret", service=own, environment_map={"*": "prod"}),
                  sign)  # fmt: skip
    deliver(hook, issue())
    item = Incident.objects.get()
    assert list(item.services.all()) == [own] and item.environment == prod


# --- Bodies that are not Sentry's -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b.pop("action"), "action"),
        (lambda b: b.update(action="Created"), "action"),
        (lambda b: b.update(action="x" * 51), "action"),
        (lambda b: b.update(action=["created"]), "action"),
        (lambda b: b.pop("data"), "data"),
        (lambda b: b.update(data="text"), "data"),
        (lambda b: b["data"].pop("issue"), "data"),
        (lambda b: b["data"]["issue"].pop("id"), "data"),
        (lambda b: b["data"]["issue"].update(id=1635244907), "data"),
        (lambda b: b["data"]["issue"].update(id="../../etc"), "data"),
        (lambda b: b["data"]["issue"].update(id="x" * 101), "data"),
        (lambda b: b["data"]["issue"].update(title=["not", "text"]), "data"),
        (lambda b: b["data"]["issue"].update(title="x" * 20001), "data"),
        (lambda b: b["data"]["issue"].update(firstSeen="99999-01-01T00:00:00Z"), "data"),
        (lambda b: b["data"]["issue"].update(firstSeen="2200-01-01T00:00:00Z"), "data"),
        (lambda b: b["data"]["issue"].update(firstSeen="yesterday"), "data"),
        (lambda b: b["data"]["issue"].update(level=5), "data"),
        (lambda b: b["data"]["issue"].update(project="checkout-api"), "data"),
    ],
)
def test_a_body_that_is_not_sentrys_is_a_400_naming_the_field(sentry, change, field):
    body = issue()
    change(body)
    response = deliver(sentry, body)
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Incident.objects.exists() and not HookDelivery.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b["data"]["event"].update(tags="level:error"), "tags"),
        (lambda b: b["data"]["event"].update(tags=[["level"]]), "tags"),
        (lambda b: b["data"]["event"].update(tags=[["k", str(n)] for n in range(201)]), "tags"),
        (lambda b: b["data"]["event"].update(datetime="2200-01-01T00:00:00Z"), "datetime"),
        (lambda b: b["data"]["event"].update(issue_id="12ab"), "issue_id"),
    ],
)
def test_an_issue_alert_that_is_not_sentrys_is_a_400_naming_the_field(sentry, change, field):
    body = event_alert()
    change(body)
    response = deliver(sentry, body, "event_alert")
    assert response.status_code == 400, response.content
    assert field in response.json()["data"]["event"]


@pytest.mark.parametrize(
    ("headers", "field"),
    [({"Sentry-Hook-Resource": ""}, "Sentry-Hook-Resource"),
     ({"Sentry-Hook-Resource": "Issue; drop"}, "Sentry-Hook-Resource"),
     ({"Sentry-Hook-Resource": "issue", "Request-ID": "r" * 101}, "Request-ID")],
)  # fmt: skip
def test_bad_headers_are_a_400_naming_the_header(sentry, headers, field):
    response = sentry.post(issue(), headers=headers)
    assert response.status_code == 400 and field in response.json()
    assert not Incident.objects.exists()


def test_hostile_bodies_are_refused_without_a_500(sentry):
    nested = issue()
    deep: dict = {}
    for _ in range(100):
        deep = {"x": deep}
    nested["data"]["issue"]["metadata"] = deep
    assert deliver(sentry, nested).status_code == 400
    assert deliver(sentry, b"[" * 5000 + b"]" * 5000).status_code == 400
    assert deliver(sentry, b"\xff\xfe not utf-8").status_code == 400
    assert deliver(sentry, b"[]").status_code == 400
    assert deliver(sentry, b"x" * (1024 * 1024 + 1)).status_code == 413
    assert not Incident.objects.exists()


def test_control_characters_and_a_long_title_are_made_one_bounded_line(sentry):
    null = deliver(sentry, issue(title="Disk\x00 full"))
    assert null.status_code == 400 and "title" in null.json()["data"]["issue"]
    response = deliver(sentry, issue(title="Disk full\n\ron db-1\x1b[31m \u202egnp." + "x" * 5000))
    assert response.status_code == 200, response.json()
    title = Incident.objects.get().title
    assert len(title) <= 200 and title.isprintable() and title.startswith("Disk full on db-1"), title


def test_a_blank_title_is_named_by_the_short_id(sentry):
    deliver(sentry, issue(title="  "))
    assert Incident.objects.get().title == "Sentry issue CHECKOUT-API-3F"


def test_a_secret_in_the_title_is_redacted(sentry):
    response = deliver(sentry, issue(title="Deploy failed: AKIAIOSFODNN7EXAMPLE rejected"))
    assert response.json()["redacted"]
    assert "AKIAIOSFODNN7EXAMPLE" not in Incident.objects.get().title
