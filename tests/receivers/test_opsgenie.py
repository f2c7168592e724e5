"""Opsgenie's Webhook integration: a hook's bearer token; alerts created, acknowledged and closed."""

from __future__ import annotations

import copy
import datetime as dt

import pytest
from rest_framework.test import APIClient

from incidents.api import examples as ex
from incidents.models import ApiToken, HookDelivery, Incident
from incidents.services import api_token_create
from tests.factories import ServiceFactory
from tests.receivers.conftest import PAYLOADS, Sender, hook_of, vendored

pytestmark = pytest.mark.django_db

URL = "/api/v1/hooks/opsgenie/"
ALERT_ID = ex.OPSGENIE_CREATE["alert"]["alertId"]


@pytest.fixture
def opsgenie(make_hook) -> Sender:
    return Sender(make_hook("opsgenie"))


def action(name: str = "Create", **alert) -> dict:
    body = copy.deepcopy(ex.OPSGENIE_CLOSE if name == "Close" else ex.OPSGENIE_CREATE)
    body["action"] = name
    body["alert"].update(alert)
    return body


def bearer(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


# --- The vendor's own bodies ------------------------------------------------------------------------------------

VENDORED = sorted(path.name for path in (PAYLOADS / "opsgenie").glob("*.json"))


@pytest.mark.parametrize("name", VENDORED)
def test_every_vendored_payload_is_answered_as_its_action_says(opsgenie, name):
    body = vendored("opsgenie", name)
    response = opsgenie.post(body)
    read = body["action"] in ("Create", "Acknowledge", "UnAcknowledge", "Escalate", "Close")
    assert response.status_code == (200 if read else 202), (name, response.json())
    answer = response.json()
    assert answer["errors"] == [] and answer["warnings"] == []
    if read:
        (reference,) = answer["created"]
        item = Incident.objects.get()
        assert item.reference == reference and item.source == "opsgenie"
        assert item.external_id.endswith("/" + body["alert"]["alertId"])
        assert item.title  # the alert's message, else "Opsgenie alert #<tinyId>"
        assert (item.resolved_at is not None) == (body["action"] == "Close")
        assert opsgenie.post(body).json()["unchanged"] == [reference]  # the same delivery again
    else:
        assert answer["detail"] == f"Event {body['action']!r} ignored."
        assert not Incident.objects.exists()


def opsgenie_body(name: str, **alert) -> dict:
    """A vendored body, its alert's fields changed by `alert` (None removes one)."""
    body = vendored("opsgenie", name)
    for key, value in alert.items():
        if value is None:
            body["alert"].pop(key)
        else:
            body["alert"][key] = value
    return body


VENDORED_ALERT_ID = "052652ac-5d1c-464a-812a-7dd18bbfba8c"  # acknowledge, addnote, unacknowledge, close, custom
VENDORED_CREATED = dt.datetime(2015, 1, 5, 10, 3, 11, 104000, tzinfo=dt.UTC)  # their createdAt, milliseconds


def test_the_vendored_create_maps_each_field(opsgenie, team):
    response = opsgenie.post(vendored("opsgenie", "create.json"))
    assert response.status_code == 200, response.json()
    answer = response.json()
    assert (answer["errors"], answer["warnings"]) == ([], [])
    item = Incident.objects.get()
    assert answer["created"] == [item.reference]
    assert answer["redacted"] == {item.reference: {"summary": {"email": 1}}}  # the source, an e-mail address
    assert item.external_id == f"team{team.pk}/ec03dad6-62c8-4c94-b38b-d88f398e900f"
    assert (item.title, item.severity) == ("another alert", "sev3")  # "priority": 3, a number
    assert item.started_at == dt.datetime(2017, 8, 14, 11, 25, 56, 288000, tzinfo=dt.UTC) == item.detected_at
    assert item.resolved_at is None
    assert item.environment is None and not item.services.exists()  # the entity "Server" is no service
    assert item.summary.startswith("Opsgenie alert #2 (Create)")
    for fact in ("Priority: P3", "Entity: Server", "Source: [email]", "Alias: alert-alias", "Tags: vip",
                 "Alert id: ec03dad6-62c8-4c94-b38b-d88f398e900f"):  # fmt: skip
        assert fact in item.summary
    assert "test@example.com" not in item.summary
    assert HookDelivery.objects.get().event == "Create"


def test_the_vendored_entity_names_a_service_of_the_team(opsgenie, team):
    server = ServiceFactory(slug="server", name="Server", owner_team=team)
    opsgenie.post(vendored("opsgenie", "create.json"))
    assert list(Incident.objects.get().services.all()) == [server]


def test_the_vendored_alert_acknowledged_noted_unacknowledged_then_closed(opsgenie, team):
    """Opsgenie's own bodies for one alert (052652ac…), in the order it sent them."""
    acknowledged = opsgenie.post(vendored("opsgenie", "acknowledge.json"))
    assert acknowledged.status_code == 200  # its Create was not mapped: the open alert is filed
    (reference,) = acknowledged.json()["created"]
    item = Incident.objects.get()
    assert item.external_id == f"team{team.pk}/{VENDORED_ALERT_ID}"
    assert (item.title, item.severity, item.started_at) == ("test alert", "", VENDORED_CREATED)
    assert "Opsgenie alert #23 (Acknowledge)" in item.summary and "Tags: tag1, tag2" in item.summary
    noted = opsgenie.post(vendored("opsgenie", "addnote.json"))
    assert noted.status_code == 202 and noted.json()["detail"] == "Event 'AddNote' ignored."
    assert opsgenie.post(vendored("opsgenie", "unacknowledge.json")).json()["unchanged"] == [reference]
    assert Incident.objects.get().version == item.version
    closed = opsgenie.post(vendored("opsgenie", "close.json"))
    assert closed.status_code == 200 and closed.json()["resolved"] == [reference]
    resolved_at = dt.datetime(2015, 1, 5, 10, 6, 14, 669002, tzinfo=dt.UTC)  # updatedAt, nanoseconds
    assert Incident.objects.get().resolved_at == resolved_at
    assert opsgenie.post(vendored("opsgenie", "close.json")).json()["unchanged"] == [reference]
    assert Incident.objects.get().resolved_at == resolved_at
    outcomes = list(HookDelivery.objects.order_by("id").values_list("event", "outcome"))
    assert outcomes == [("Acknowledge", "recorded"), ("AddNote", "ignored"), ("UnAcknowledge", "unchanged"),
                        ("Close", "recorded"), ("Close", "unchanged")]  # fmt: skip


def test_the_vendored_close_first_files_the_alert_resolved(opsgenie):
    response = opsgenie.post(vendored("opsgenie", "close.json"))
    assert response.status_code == 200 and len(response.json()["created"]) == 1
    item = Incident.objects.get()
    assert (item.started_at, item.resolved_at) == (
        VENDORED_CREATED, dt.datetime(2015, 1, 5, 10, 6, 14, 669002, tzinfo=dt.UTC))  # fmt: skip


def test_the_vendored_escalate_of_an_unknown_alert_is_named_by_its_id(opsgenie):
    """Opsgenie's Escalate body carries the alertId only: no message, tinyId, priority or times."""
    before = dt.datetime.now(dt.UTC)
    response = opsgenie.post(vendored("opsgenie", "escalate.json"))
    assert response.status_code == 200 and len(response.json()["created"]) == 1
    item = Incident.objects.get()
    assert item.title == "Opsgenie alert 7ba97e3a-d328-4b5e-8f9a-39e945a3869a"
    assert item.severity == "" and item.started_at >= before and item.resolved_at is None
    assert item.summary.startswith("Opsgenie alert 7ba97e3a-d328-4b5e-8f9a-39e945a3869a (Escalate)")


def test_a_vendored_custom_action_is_a_202_recording_nothing(opsgenie):
    response = opsgenie.post(vendored("opsgenie", "customaction.json"))
    assert response.status_code == 202
    assert response.json()["detail"] == "Event 'TestAction' ignored."
    assert not Incident.objects.exists() and HookDelivery.objects.get().outcome == "ignored"


def test_a_custom_action_with_a_long_name_is_logged_cut_to_the_delivery_log(opsgenie):
    """Found by R3: a custom action of 51 to 100 characters was a 500 (the log's column holds 50)."""
    body = vendored("opsgenie", "customaction.json")
    body["action"] = "Escalate to the payments on-call and page the database owners " + "x" * 37
    response = opsgenie.post(body)
    assert response.status_code == 202
    assert response.json()["detail"] == f"Event {body['action']!r} ignored."
    assert HookDelivery.objects.get().event == body["action"][:50]


def test_a_vendored_create_of_another_alert_is_another_item(opsgenie):
    opsgenie.post(vendored("opsgenie", "create.json"))
    response = opsgenie.post(opsgenie_body("create.json", alertId="ec03dad6-62c8-4c94-b38b-d88f398e9010"))
    assert len(response.json()["created"]) == 1
    assert Incident.objects.count() == 2


@pytest.mark.parametrize(
    ("removed", "title", "severity"),
    [
        ({"message": None}, "Opsgenie alert #2", "sev3"),
        ({"message": None, "tinyId": None}, "Opsgenie alert ec03dad6-62c8-4c94-b38b-d88f398e900f", "sev3"),
        ({"priority": None}, "another alert", ""),
        ({"tags": None, "entity": None, "source": None, "alias": None}, "another alert", "sev3"),
    ],
)
def test_vendored_fields_removed_leave_their_fields_empty(opsgenie, removed, title, severity):
    response = opsgenie.post(opsgenie_body("create.json", **removed))
    assert response.status_code == 200, response.json()
    item = Incident.objects.get()
    assert (item.title, item.severity) == (title, severity)
    if "tags" in removed:
        assert item.summary == (
            "Opsgenie alert #2 (Create)\n\nPriority: P3\nAlert id: ec03dad6-62c8-4c94-b38b-d88f398e900f"
        )


def test_a_vendored_create_without_created_at_started_when_received(opsgenie):
    before = dt.datetime.now(dt.UTC)
    assert opsgenie.post(opsgenie_body("create.json", createdAt=None)).status_code == 200
    assert Incident.objects.get().started_at >= before


@pytest.mark.parametrize(
    ("alert", "field"),
    [
        ({"alertId": None}, "alertId"),
        ({"alertId": "ec03dad6 62c8"}, "alertId"),
        ({"message": "another\x00alert"}, "message"),
        ({"message": "m" * 20001}, "message"),
        ({"tags": ["vip"] * 101}, "tags"),
        ({"tags": ["t" * 1001]}, "tags"),
        ({"entity": "e" * 1001}, "entity"),
        ({"priority": "3"}, "priority"),
        ({"createdAt": 2**63}, "createdAt"),
        ({"createdAt": "1502709956288"}, "createdAt"),
    ],
)
def test_a_vendored_body_changed_out_of_bounds_is_a_400_naming_the_field(opsgenie, alert, field):
    response = opsgenie.post(opsgenie_body("create.json", **alert))
    assert response.status_code == 400, response.content
    assert field in response.json()["alert"]
    assert not Incident.objects.exists() and not HookDelivery.objects.exists()


def test_vendored_control_characters_and_oversized_text_become_bounded_lines(opsgenie):
    body = opsgenie_body("create.json", message="another alert\n\ron Server\x1b[31m \u202e." + "x" * 5000,
                         tags=["vip\nenv:prod", "env:staging\r"])  # fmt: skip
    response = opsgenie.post(body)
    assert response.status_code == 200, response.json()
    item = Incident.objects.get()
    assert 150 < len(item.title) <= 200 and item.title.isprintable() and item.title.startswith("another alert on")
    assert item.environment.slug == "staging"  # a tag is one line: "vip env:prod" names no environment
    assert "Tags: vip env:prod, env:staging" in item.summary


# --- Create, acknowledge, close --------------------------------------------------------------------------------


def test_a_created_alert_becomes_one_triage_item_with_the_mapped_fields(opsgenie, team, service, prod):
    response = opsgenie.post(action())
    assert response.status_code == 200, response.json()
    (reference,) = response.json()["created"]
    item = Incident.objects.get()
    assert item.reference == reference and item.team == team
    assert (item.status, item.kind, item.source, item.caught_by) == ("triage", "incident", "opsgenie",
                                                                      "monitoring_alert")  # fmt: skip
    assert item.external_id == f"team{team.pk}/{ALERT_ID}"
    assert item.title == "Checkout p95 latency above 2 s"
    assert item.severity == "sev2"  # P2
    assert item.environment == prod  # the tag env:prod
    assert list(item.services.all()) == [service]  # the tag service:checkout-api
    assert item.started_at == dt.datetime(2026, 11, 24, 9, 19, tzinfo=dt.UTC)  # createdAt, milliseconds
    assert item.detected_at == item.started_at and item.resolved_at is None
    assert "Opsgenie alert #1842 (Create)" in item.summary
    assert "p95 of checkout-api is 2.4 s" in item.summary  # the description
    assert "runbook: https://runbooks.example.com/checkout-latency" in item.summary  # a detail
    assert "Alias: checkout-latency" in item.summary and "Priority: P2" in item.summary
    assert hook_of(opsgenie).last_delivery_at is not None
    assert HookDelivery.objects.get(source="opsgenie").outcome == "recorded"


def test_the_same_action_again_changes_nothing(opsgenie):
    first = opsgenie.post(action()).json()["created"]
    again = opsgenie.post(action())
    assert again.status_code == 200
    assert again.json()["created"] == [] and again.json()["unchanged"] == first
    assert Incident.objects.count() == 1


def test_acknowledged_then_closed_resolves_the_item_once(opsgenie):
    (reference,) = opsgenie.post(action()).json()["created"]
    before = Incident.objects.get()
    ack = opsgenie.post(action("Acknowledge", username="rita@example.com"))
    assert ack.status_code == 200 and ack.json()["unchanged"] == [reference]
    after_ack = Incident.objects.get()
    assert (after_ack.version, after_ack.resolved_at, after_ack.title) == (before.version, None, before.title)
    closed = opsgenie.post(action("Close"))
    assert closed.status_code == 200 and closed.json()["resolved"] == [reference]
    item = Incident.objects.get()
    assert item.resolved_at == dt.datetime(2026, 11, 24, 9, 48, tzinfo=dt.UTC)  # updatedAt, nanoseconds
    later = opsgenie.post(action("Close", updatedAt=1795520000000000000))
    assert later.json()["unchanged"] == [reference]
    assert Incident.objects.get().resolved_at == item.resolved_at


def test_a_close_without_updated_at_resolves_at_the_time_of_receipt(opsgenie):
    opsgenie.post(action())
    body = action("Close")
    del body["alert"]["updatedAt"]
    before = dt.datetime.now(dt.UTC)
    assert opsgenie.post(body).status_code == 200
    assert Incident.objects.get().resolved_at >= before


def test_an_alert_first_heard_of_as_closed_is_filed_resolved(opsgenie):
    response = opsgenie.post(action("Close"))
    assert len(response.json()["created"]) == 1
    item = Incident.objects.get()
    assert item.resolved_at == dt.datetime(2026, 11, 24, 9, 48, tzinfo=dt.UTC)
    assert item.started_at == dt.datetime(2026, 11, 24, 9, 19, tzinfo=dt.UTC)


@pytest.mark.parametrize("name", ["Acknowledge", "UnAcknowledge", "Escalate"])
def test_an_open_action_of_an_alert_not_heard_of_files_it(opsgenie, name):
    response = opsgenie.post(action(name))
    assert response.status_code == 200 and len(response.json()["created"]) == 1
    assert Incident.objects.get().resolved_at is None


def test_a_new_alert_with_the_same_alias_is_a_new_item(opsgenie):
    """Opsgenie's alias dedups open alerts; once one is closed, an alert with the same alias is another alert
    (another alertId), and another item."""
    opsgenie.post(action())
    opsgenie.post(action("Close"))
    response = opsgenie.post(action(alertId="9d1e0b44-6a3f-4c2e-8f11-5b7a2c9e3d04-1795600000000"))
    assert len(response.json()["created"]) == 1
    assert Incident.objects.count() == 2


@pytest.mark.parametrize(
    "name", ["AddNote", "AssignOwnership", "TakeOwnership", "AddTags", "RemoveTags", "Delete", "Snooze",
             "Restart runbook", "create"],
)  # fmt: skip
def test_other_actions_are_accepted_and_ignored(opsgenie, name):
    response = opsgenie.post(action(name))
    assert response.status_code == 202
    assert response.json()["detail"] == f"Event {name!r} ignored."
    assert not Incident.objects.exists()
    assert HookDelivery.objects.get().outcome == "ignored"


def test_an_ignored_action_of_a_known_alert_changes_nothing(opsgenie):
    opsgenie.post(action())
    before = Incident.objects.get()
    assert opsgenie.post(action("AddNote", message="Renamed")).status_code == 202
    assert Incident.objects.get().version == before.version and Incident.objects.get().title == before.title


# --- Severity, environment, service ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("priority", "severity"),
    [("P1", "sev1"), ("P2", "sev2"), ("p3", "sev3"), ("P4", "sev4"), ("P5", "sev4"), (3, "sev3"), (None, "")],
)
def test_severity_is_the_priority(opsgenie, priority, severity):
    body = action(priority=priority)
    assert opsgenie.post(body).status_code == 200
    assert Incident.objects.get().severity == severity


def test_no_priority_leaves_the_severity_empty(opsgenie):
    body = action()
    del body["alert"]["priority"]
    opsgenie.post(body)
    assert Incident.objects.get().severity == ""


@pytest.mark.parametrize(
    ("tags", "details", "environment"),
    [
        (["environment:staging"], {}, "staging"),
        (["ENV=staging", "env:prod"], {}, "staging"),  # the first name listed that a tag carries
        ([], {"Environment": "staging"}, "staging"),
        (["env:prod"], {"environment": "staging"}, "prod"),  # a tag before a detail
        ([], {}, None),
        (["env:moon"], {}, None),  # not a Hindsight environment
    ],
)
def test_the_environment_is_a_tag_else_a_detail(opsgenie, tags, details, environment):
    assert opsgenie.post(action(tags=tags, details=details)).status_code == 200
    item = Incident.objects.get()
    assert (item.environment.slug if item.environment else None) == environment


def test_the_hooks_environment_map_and_its_default_apply(make_hook, staging, prod):
    hook = Sender(make_hook("opsgenie", name="mapped", environment_map={"production": "prod", "*": "staging"}))
    hook.post(action(tags=["env:production"]))
    hook.post(action(alertId="other-alert-1", tags=[]))
    hook.post(action(alertId="other-alert-2", tags=["env:moon"]))
    first, second, third = Incident.objects.order_by("number")
    assert (first.environment, second.environment, third.environment) == (prod, staging, staging)


@pytest.mark.parametrize(
    ("tags", "details", "entity", "expected"),
    [
        (["service:payments-core"], {"service": "checkout-api"}, "checkout-api", "payments-core"),
        ([], {"service": "payments-core"}, "checkout-api", "payments-core"),
        ([], {}, "payments-core", "payments-core"),
        ([], {}, "Payments Core", "payments-core"),  # a service's name, not only its slug
        ([], {}, "db-7.internal", None),  # an entity that is no service: filed without one, no warning
    ],
)
def test_the_service_is_a_tag_else_a_detail_else_the_entity(opsgenie, team, tags, details, entity, expected):
    ServiceFactory(slug="payments-core", name="Payments Core", owner_team=team)
    response = opsgenie.post(action(tags=tags, details=details, entity=entity))
    assert response.status_code == 200 and response.json()["warnings"] == []
    assert list(Incident.objects.get().services.values_list("slug", flat=True)) == ([expected] if expected else [])


def test_the_hooks_service_comes_first(make_hook, team):
    own = ServiceFactory(slug="payments-core", owner_team=team)
    hook = Sender(make_hook("opsgenie", name="with service", service=own))
    hook.post(action())  # tagged service:checkout-api
    assert list(Incident.objects.get().services.all()) == [own]


def test_another_teams_service_is_left_out_with_a_warning(opsgenie, other_team):
    ServiceFactory(slug="ledger", name="Ledger", owner_team=other_team)
    response = opsgenie.post(action(tags=["service:ledger"]))
    assert response.status_code == 200
    (warning,) = response.json()["warnings"]
    assert warning["alertId"] == ALERT_ID and warning["service"] == "ledger"
    assert "not one of" in warning["detail"]
    assert not Incident.objects.get().services.exists()


# --- Who may deliver -------------------------------------------------------------------------------------------


def test_a_missing_or_wrong_token_is_a_401(opsgenie):
    assert APIClient().post(URL, action(), format="json").status_code == 401
    assert bearer("hs_not-a-token-at-all").post(URL, action(), format="json").status_code == 401
    assert not Incident.objects.exists()


def test_another_sources_hook_token_and_a_read_token_are_refused(opsgenie, make_hook, team):
    grafana = make_hook("grafana")
    other_source = bearer(grafana.secret).post(URL, action(), format="json")
    assert other_source.status_code == 403
    assert "accepted only at /api/v1/hooks/grafana/" in other_source.json()["detail"]
    _, raw = api_token_create(name="dashboard", team=team, scope=ApiToken.Scope.READ)
    assert bearer(raw).post(URL, action(), format="json").status_code == 403
    assert not Incident.objects.exists()


def test_a_teams_write_token_delivers_without_a_hook(team, prod):
    _, raw = api_token_create(name="opsgenie", team=team, scope=ApiToken.Scope.WRITE)
    response = bearer(raw).post(URL, action(), format="json")
    assert response.status_code == 200, response.json()
    item = Incident.objects.get()
    assert item.team == team and item.environment == prod


def test_a_switched_off_hook_is_refused(opsgenie):
    opsgenie.hook.active = False
    opsgenie.hook.save()
    assert opsgenie.post(action()).status_code == 403
    assert not Incident.objects.exists()


def test_two_teams_hooks_keep_their_own_items(opsgenie, make_hook, other_team):
    other = Sender(make_hook("opsgenie", name="platform", team=other_team))
    opsgenie.post(action())
    other.post(action())  # the same Opsgenie alert, delivered to another team's hook
    other.post(action("Close"))
    items = {item.team.slug: item for item in Incident.objects.all()}
    assert sorted(items) == ["payments", "platform"]
    assert items["payments"].resolved_at is None and items["platform"].resolved_at is not None


# --- Bodies that are not Opsgenie's ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b.pop("action"), "action"),
        (lambda b: b.pop("alert"), "alert"),
        (lambda b: b.update(alert="text"), "alert"),
        (lambda b: b.update(action=["Create"]), "action"),
        (lambda b: b.update(action="Create\nClose"), "action"),
        (lambda b: b.update(action="C" * 101), "action"),
        (lambda b: b["alert"].pop("alertId"), "alert"),
        (lambda b: b["alert"].update(alertId="../../etc/passwd"), "alert"),
        (lambda b: b["alert"].update(alertId="x" * 101), "alert"),
        (lambda b: b["alert"].update(alertId=42), "alert"),
        (lambda b: b["alert"].update(createdAt="2026-11-24T09:19:00Z"), "alert"),
        (lambda b: b["alert"].update(createdAt=-1), "alert"),
        (lambda b: b["alert"].update(createdAt=10**30), "alert"),
        (lambda b: b["alert"].update(createdAt=7258118400000), "alert"),  # 2200-01-01 in milliseconds
        (lambda b: b["alert"].update(updatedAt=4102444800 * 10**9 + 10**18), "alert"),  # past 2100 in ns
        (lambda b: b["alert"].update(createdAt=1.5e12), "alert"),
        (lambda b: b["alert"].update(createdAt=True), "alert"),
        (lambda b: b["alert"].update(message=["not", "text"]), "alert"),
        (lambda b: b["alert"].update(message="x" * 20001), "alert"),
        (lambda b: b["alert"].update(description="x" * 15001), "alert"),
        (lambda b: b["alert"].update(tags="env:prod"), "alert"),
        (lambda b: b["alert"].update(tags=[f"t{n}" for n in range(101)]), "alert"),
        (lambda b: b["alert"].update(tags=[{"env": "prod"}]), "alert"),
        (lambda b: b["alert"].update(details={"a": 1}), "alert"),
        (lambda b: b["alert"].update(details={f"k{n}": "v" for n in range(201)}), "alert"),
        (lambda b: b["alert"].update(details={"bad\nname": "v"}), "alert"),
        (lambda b: b["alert"].update(priority="P9"), "alert"),
        (lambda b: b["alert"].update(priority=0), "alert"),
        (lambda b: b["alert"].update(tinyId="1 2"), "alert"),
        (lambda b: b.update(source="web"), "source"),
    ],
)
def test_a_body_that_is_not_opsgenies_is_a_400_naming_the_field(opsgenie, change, field):
    body = action()
    change(body)
    response = opsgenie.post(body)
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Incident.objects.exists() and not HookDelivery.objects.exists()


def test_an_error_names_the_nested_field(opsgenie):
    response = opsgenie.post(action(createdAt=7258118400000))
    assert "createdAt" in response.json()["alert"]


def test_hostile_bodies_are_refused_without_a_500(opsgenie):
    nested = action()
    deep: dict = {}
    for _ in range(100):
        deep = {"x": deep}
    nested["alert"]["details"] = deep
    assert opsgenie.post(nested).status_code == 400
    assert opsgenie.post(b"[" * 5000 + b"]" * 5000).status_code == 400
    assert opsgenie.post(b"\xff\xfe not utf-8").status_code == 400
    assert opsgenie.post(b"[]").status_code == 400
    assert opsgenie.post(b'{"action": "Create", "alert": {"alertId": "a", "createdAt": 1' + b"0" * 5000 + b"}}")\
        .status_code == 400  # fmt: skip
    assert opsgenie.post(b'{"action": "Create", "alert": {"alertId": "a", "createdAt": NaN}}').status_code == 400
    assert opsgenie.post(b"x" * (1024 * 1024 + 1)).status_code == 413
    assert not Incident.objects.exists()


def test_control_characters_and_a_long_message_are_made_one_bounded_line(opsgenie):
    null = opsgenie.post(action(message="Disk\x00 full"))
    assert null.status_code == 400 and "message" in null.json()["alert"]
    response = opsgenie.post(action(message="Disk full\n\ron db-1\x1b[31m \u202egnp." + "x" * 5000))
    assert response.status_code == 200, response.json()
    title = Incident.objects.get().title
    assert len(title) <= 200 and title.isprintable() and title.startswith("Disk full on db-1"), title


def test_a_message_missing_or_blank_is_named_by_its_tiny_id(opsgenie):
    opsgenie.post(action(message="  "))
    assert Incident.objects.get().title == "Opsgenie alert #1842"


def test_many_long_details_keep_the_summary_within_its_limit(opsgenie):
    details = {f"detail-{n:03}": "v" * 7000 for n in range(10)}
    response = opsgenie.post(action(details=details))
    assert response.status_code == 200 and response.json()["errors"] == []
    summary = Incident.objects.get().summary
    assert len(summary) <= 20000
    assert "detail-000: " in summary and "more parts left out" in summary and "detail-009" not in summary


def test_a_secret_in_the_message_is_redacted(opsgenie):
    response = opsgenie.post(action(message="Deploy failed: AKIAIOSFODNN7EXAMPLE rejected"))
    assert response.json()["redacted"]
    assert "AKIAIOSFODNN7EXAMPLE" not in Incident.objects.get().title


def test_each_delivery_counts_against_the_write_throttle(opsgenie, settings):
    settings.API_WRITE_THROTTLE_RATE = "2/min"
    assert opsgenie.post(action()).status_code == 200
    assert opsgenie.post(action("Close")).status_code == 200
    refused = opsgenie.post(action(alertId="third-alert"))
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert Incident.objects.count() == 1
