"""PagerDuty v3 webhooks: signed per hook; incidents triggered, acknowledged and resolved."""

from __future__ import annotations

import copy
import datetime as dt
import json

import pytest

from incidents.api import examples as ex
from incidents.api.receivers.pagerduty import pagerduty_signature
from incidents.models import HookDelivery, Incident
from tests.factories import ServiceFactory
from tests.receivers.conftest import PAYLOADS, Sender, hook_of, vendored

pytestmark = pytest.mark.django_db


def sign(secret: str, body: bytes) -> dict[str, str]:
    return {"X-PagerDuty-Signature": pagerduty_signature(secret, body)}


@pytest.fixture
def pagerduty(make_hook) -> Sender:
    return Sender(make_hook("pagerduty", secret="a-pagerduty-signing-secret"), sign)


def event(event_type: str = "incident.triggered", **data) -> dict:
    body = copy.deepcopy(ex.PAGERDUTY_TRIGGERED)
    body["event"]["event_type"] = event_type
    body["event"]["id"] = f"01{event_type.replace('.', '').upper()[:20]}{len(data)}"
    body["event"]["data"].update(data)
    return body


def test_a_triggered_incident_becomes_one_triage_item(pagerduty, team, service):
    response = pagerduty.post(event())
    assert response.status_code == 200, response.json()
    (reference,) = response.json()["created"]
    item = Incident.objects.get()
    assert item.reference == reference and item.team == team
    assert (item.status, item.kind, item.source) == ("triage", "incident", "pagerduty")
    assert item.title == "Checkout p95 latency above 2 s"
    assert item.severity == "sev2"  # priority P2
    assert list(item.services.all()) == [service]  # the PagerDuty service's name is a Hindsight slug
    assert item.started_at.isoformat() == "2026-11-24T09:19:02+00:00"
    assert "PagerDuty incident #4711" in item.summary and "https://example-shop.pagerduty.com" in item.summary
    assert hook_of(pagerduty).last_delivery_at is not None


def test_the_same_event_again_changes_nothing_and_says_so(pagerduty):
    body = event()
    pagerduty.post(body)
    again = pagerduty.post(body)
    assert again.status_code == 200
    assert again.json()["detail"].endswith("already received.") and again.json()["created"] == []
    assert Incident.objects.count() == 1
    assert HookDelivery.objects.get(source="pagerduty").repeats == 1


def test_acknowledged_then_resolved_resolves_the_item_once(pagerduty):
    pagerduty.post(event())
    ack = pagerduty.post(event("incident.acknowledged", status="acknowledged"))
    assert ack.json()["unchanged"] and not ack.json()["created"]
    resolved = event("incident.resolved", status="resolved")
    resolved["event"]["occurred_at"] = "2026-11-24T10:02:00Z"
    response = pagerduty.post(resolved)
    assert response.status_code == 200 and len(response.json()["resolved"]) == 1
    item = Incident.objects.get()
    assert item.resolved_at.isoformat() == "2026-11-24T10:02:00+00:00"
    later = event("incident.resolved", status="resolved", number=1)
    assert pagerduty.post(later).json()["unchanged"] == [item.reference]
    assert Incident.objects.get().resolved_at == item.resolved_at


def test_an_incident_first_heard_of_as_resolved_is_filed_resolved(pagerduty):
    response = pagerduty.post(event("incident.resolved", status="resolved"))
    assert len(response.json()["created"]) == 1
    assert Incident.objects.get().resolved_at is not None


@pytest.mark.parametrize("event_type", ["incident.annotated", "pagey.ping", "service.updated"])
def test_other_event_types_are_accepted_and_ignored(pagerduty, event_type):
    response = pagerduty.post(event(event_type))
    assert response.status_code == 202
    assert response.json()["detail"] == f"Event {event_type!r} ignored."
    assert not Incident.objects.exists()
    assert HookDelivery.objects.get().outcome == "ignored"


@pytest.mark.parametrize(
    ("priority", "urgency", "severity"),
    [("P1", "high", "sev1"), ("p3", "high", "sev3"), ("P5", "low", "sev4"), ("", "low", "sev3"),
     ("Custom", "high", "sev2"), ("", "", "")],
)  # fmt: skip
def test_severity_is_the_priority_else_the_urgency(pagerduty, priority, urgency, severity):
    data = {"urgency": urgency, "priority": {"summary": priority} if priority else None}
    assert pagerduty.post(event(**data)).status_code == 200
    assert Incident.objects.get().severity == severity


def test_signatures_are_checked_against_this_sources_hooks(pagerduty, make_hook):
    body = json.dumps(event()).encode()
    wrong = pagerduty.client.post(
        pagerduty.url,
        body,
        content_type="application/json",
        headers={"X-PagerDuty-Signature": pagerduty_signature("not-the-secret-at-all", body)},
    )
    missing = pagerduty.client.post(pagerduty.url, body, content_type="application/json")
    github = make_hook("github", secret="a-github-secret-of-16+")
    other_source = pagerduty.client.post(
        pagerduty.url,
        body,
        content_type="application/json",
        headers={"X-PagerDuty-Signature": pagerduty_signature(github.secret, body)},
    )
    rotating = pagerduty.client.post(pagerduty.url, body, content_type="application/json", headers={
        "X-PagerDuty-Signature": f"v1=00ff,{pagerduty_signature(pagerduty.secret, body)}"})  # fmt: skip
    assert (wrong.status_code, missing.status_code, other_source.status_code) == (401, 401, 401)
    assert rotating.status_code == 200
    assert Incident.objects.count() == 1


def test_a_switched_off_hook_is_refused(pagerduty):
    pagerduty.hook.active = False
    pagerduty.hook.save()
    assert pagerduty.post(event()).status_code == 401


def test_another_teams_service_is_left_out_with_a_warning(pagerduty, other_team):
    ServiceFactory(slug="ledger", name="Ledger", owner_team=other_team)
    response = pagerduty.post(event(service={"id": "P1", "summary": "Ledger"}))
    assert response.status_code == 200
    assert "not one of" in response.json()["warnings"][0]["detail"]
    assert not Incident.objects.get().services.exists()


def test_the_hooks_service_and_environment_map_apply(make_hook, team, prod, staging):
    own = ServiceFactory(slug="payments-core", owner_team=team)
    hook = Sender(make_hook("pagerduty", secret="another-signing-secret", service=own,
                            environment_map={"checkout-api": "staging", "*": "prod"}), sign)  # fmt: skip
    hook.post(event())
    hook.post(event(id="OTHER1", service={"summary": "Something else"}))
    first, second = Incident.objects.order_by("number")
    assert list(first.services.all()) == [own] and first.environment == staging
    assert second.environment == prod


def test_two_teams_hooks_keep_their_own_items(pagerduty, make_hook, other_team):
    other = Sender(make_hook("pagerduty", secret="platform-signing-secret", team=other_team), sign)
    pagerduty.post(event())
    other_body = event()
    other_body["event"]["id"] = "01OTHERDELIVERY"
    other.post(other_body)
    assert sorted(Incident.objects.values_list("team__slug", flat=True)) == sorted(["payments", other_team.slug])


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b["event"].pop("id"), "event"),
        (lambda b: b["event"].update(occurred_at="yesterday"), "event"),
        (lambda b: b["event"].update(event_type="incident.triggered" * 10), "event"),
        (lambda b: b["event"]["data"].update(id="x" * 101), "event"),
        (lambda b: b["event"]["data"].update(id="../../etc"), "event"),
        (lambda b: b["event"]["data"].update(number=10**30), "event"),
        (lambda b: b["event"]["data"].update(title=["not", "text"]), "event"),
        (lambda b: b["event"]["data"].update(created_at="99999-01-01T00:00:00Z"), "event"),
        (lambda b: b.pop("event"), "event"),
        (lambda b: b["event"].update(data="text"), "event"),
    ],
)
def test_a_body_that_is_not_a_v3_event_is_a_400_naming_the_field(pagerduty, change, field):
    body = event()
    change(body)
    response = pagerduty.post(body)
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Incident.objects.exists()


def test_hostile_bodies_are_refused_without_a_500(pagerduty):
    nested = b"[" * 5000 + b"]" * 5000
    assert pagerduty.post(nested).status_code == 400
    assert pagerduty.post(b"\xff\xfe not utf-8").status_code == 400
    assert pagerduty.post(b"[]").status_code == 400
    assert pagerduty.post(b"x" * (1024 * 1024 + 1)).status_code == 413
    assert not Incident.objects.exists()


def test_control_characters_and_a_long_title_are_made_one_bounded_line(pagerduty):
    null = pagerduty.post(event(title="Disk\x00 full"))
    assert null.status_code == 400 and "title" in null.json()["event"]["data"]
    response = pagerduty.post(event(title="Disk full\n\ron db-1\x1b[31m \u202egnp." + "x" * 5000))
    assert response.status_code == 200, response.json()
    title = Incident.objects.get().title
    assert len(title) <= 200 and title.isprintable(), title


def test_a_secret_in_the_title_is_redacted(pagerduty):
    response = pagerduty.post(event(title="Deploy failed: AKIAIOSFODNN7EXAMPLE rejected"))
    assert response.json()["redacted"]
    assert "AKIAIOSFODNN7EXAMPLE" not in Incident.objects.get().title


# --- The vendor's own bodies (tests/payloads/pagerduty/, origin in its NOTICE.md) ------------------------------


def pagerduty_body(name: str, **data) -> dict:
    """A vendored v3 body, its incident's fields changed by `data` (None removes one)."""
    body = vendored("pagerduty", name)
    for key, value in data.items():
        if value is None:
            body["event"]["data"].pop(key)
        else:
            body["event"]["data"][key] = value
    return body


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


@pytest.mark.parametrize(
    ("name", "key", "title", "severity", "started", "resolved"),
    [
        ("triggered_v3.json", "PFQZPSY", "Test Incident 3", "sev2", "2021-06-04T13:35:29.781+00:00", None),
        ("acknowledged_v3.json", "PQ1K5C8", "Test Incident", "sev2", "2021-06-04T13:55:30.394+00:00", None),
        ("resolved_v3.json", "PCPZE64", "Test Incident", "sev2", "2021-06-04T13:16:53.816+00:00",
         "2021-06-04T13:16:53.816+00:00"),
        ("reopened_v3.json", "Q05XJA8GDXGOB3", "Test Incident 2", "sev3", "2026-03-30T13:37:07+00:00", None),
        ("priority_updated_v3.json", "Q3B15VLMF3ASBD", "Critical: Checkout API High Latency", "sev2",
         "2026-04-01T02:07:30+00:00", None),
    ],
)  # fmt: skip
def test_each_vendored_incident_event_files_its_incident(pagerduty, team, name, key, title, severity, started,
                                                         resolved):  # fmt: skip
    body = vendored("pagerduty", name)
    incident = body["event"]["data"]
    response = pagerduty.post((PAYLOADS / "pagerduty" / name).read_bytes())  # the bytes as PagerDuty signs them
    assert response.status_code == 200, response.json()
    answer = response.json()
    assert (answer["errors"], answer["warnings"], answer["redacted"]) == ([], [], {})
    (reference,) = answer["created"]
    item = Incident.objects.get()
    assert (item.reference, item.team, item.source) == (reference, team, "pagerduty")
    assert (item.kind, item.status, item.caught_by) == ("incident", "triage", "monitoring_alert")
    assert item.external_id == f"team{team.pk}/{key}"
    assert (item.title, item.severity) == (title, severity)
    assert item.started_at == at(started) and item.detected_at == item.started_at
    assert item.resolved_at == (at(resolved) if resolved else None)
    # The PagerDuty service names no Hindsight environment or service, and the hook maps none.
    assert item.environment is None and not item.services.exists()
    assert f"PagerDuty incident #{incident['number']} ({incident['status']})" in item.summary
    assert f"Service: {incident['service']['summary']}" in item.summary
    assert f"Urgency: {incident['urgency']}" in item.summary and f"Link: {incident['html_url']}" in item.summary
    delivery = HookDelivery.objects.get()
    assert (delivery.delivery_id, delivery.event) == (body["event"]["id"], body["event"]["event_type"])
    assert delivery.outcome == "recorded"


@pytest.mark.parametrize("name", ["unsupported_v3.json", "annotated_v3.json"])
def test_vendored_events_not_read_are_a_202_recording_nothing(pagerduty, name):
    body = vendored("pagerduty", name)
    response = pagerduty.post(body)
    assert response.status_code == 202, response.json()
    assert response.json()["detail"] == f"Event {body['event']['event_type']!r} ignored."
    assert response.json()["created"] == [] and not Incident.objects.exists()
    delivery = HookDelivery.objects.get()
    assert (delivery.delivery_id, delivery.outcome) == (body["event"]["id"], "ignored")


def test_the_vendored_service_is_mapped_to_an_environment_and_a_service(make_hook, team, staging):
    ServiceFactory(slug="pig208", owner_team=team)
    default = ServiceFactory(slug="default-svc", name="Default Service", owner_team=team)
    hook = Sender(make_hook("pagerduty", secret="a-mapped-signing-secret",
                            environment_map={"pig208": "staging"}), sign)  # fmt: skip
    hook.post(vendored("pagerduty", "triggered_v3.json"))
    hook.post(vendored("pagerduty", "reopened_v3.json"))
    pig, reopened = Incident.objects.order_by("number")
    assert pig.environment == staging and list(pig.services.values_list("slug", flat=True)) == ["pig208"]
    assert reopened.environment is None  # "Default Service" is not mapped and is no environment's slug
    assert list(reopened.services.all()) == [default]  # a Hindsight service's name, any case


def test_the_vendored_body_signed_then_changed_is_a_401(pagerduty):
    raw = (PAYLOADS / "pagerduty" / "triggered_v3.json").read_bytes()
    headers = sign(pagerduty.secret, raw)
    changed = raw.replace(b"Test Incident 3", b"Test Incident 4")
    response = pagerduty.client.post(pagerduty.url, changed, content_type="application/json", headers=headers)
    assert response.status_code == 401
    assert not Incident.objects.exists()


def test_the_same_vendored_event_twice_is_received_once(pagerduty):
    body = vendored("pagerduty", "triggered_v3.json")
    assert pagerduty.post(body).status_code == 200
    again = pagerduty.post(body)
    assert again.status_code == 200
    assert again.json()["detail"] == "Delivery 01BZYIL05THJDFF2Y08X9SVMTU already received."
    assert again.json()["created"] == [] and Incident.objects.count() == 1
    assert HookDelivery.objects.get().repeats == 1


def test_the_vendored_incident_triggered_acknowledged_then_resolved(pagerduty):
    """triggered_v3 (13:35), then PagerDuty's acknowledged and resolved bodies for the same incident."""
    (reference,) = pagerduty.post(vendored("pagerduty", "triggered_v3.json")).json()["created"]
    acknowledged = pagerduty_body("acknowledged_v3.json", id="PFQZPSY")
    assert pagerduty.post(acknowledged).json()["unchanged"] == [reference]
    resolved = pagerduty_body("resolved_v3.json", id="PFQZPSY")
    resolved["event"]["occurred_at"] = "2021-06-04T14:02:11.250Z"
    response = pagerduty.post(resolved)
    assert response.status_code == 200 and response.json()["resolved"] == [reference]
    item = Incident.objects.get()
    assert item.resolved_at == at("2021-06-04T14:02:11.250+00:00")
    assert item.title == "Test Incident 3"  # the first title is kept
    reopened = pagerduty_body("reopened_v3.json", id="PFQZPSY")
    assert pagerduty.post(reopened).json()["unchanged"] == [reference]
    assert Incident.objects.get().resolved_at == item.resolved_at


def test_a_vendored_resolve_older_than_the_start_resolves_at_the_start(pagerduty):
    """resolved_v3 occurred at 13:16, before triggered_v3's 13:35: the item never ends before it started."""
    pagerduty.post(vendored("pagerduty", "triggered_v3.json"))
    response = pagerduty.post(pagerduty_body("resolved_v3.json", id="PFQZPSY"))
    assert len(response.json()["resolved"]) == 1
    item = Incident.objects.get()
    assert item.resolved_at == item.started_at == at("2021-06-04T13:35:29.781+00:00")


def test_a_vendored_event_of_another_incident_is_another_item(pagerduty):
    pagerduty.post(vendored("pagerduty", "triggered_v3.json"))
    other = pagerduty_body("triggered_v3.json", id="PXOTHER1")
    other["event"]["id"] = "01BZYIL05THJDFF2Y08XOTHER1"
    response = pagerduty.post(other)
    assert len(response.json()["created"]) == 1
    assert sorted(Incident.objects.values_list("external_id", flat=True)) == sorted(
        [f"team{pagerduty.hook.team_id}/PFQZPSY", f"team{pagerduty.hook.team_id}/PXOTHER1"]
    )


@pytest.mark.parametrize(
    ("removed", "title", "severity"),
    [
        ({"title": None}, "PagerDuty incident Q3B15VLMF3ASBD", "sev2"),
        ({"priority": None}, "Critical: Checkout API High Latency", "sev2"),  # the urgency, high
        ({"priority": None, "urgency": None}, "Critical: Checkout API High Latency", ""),
        ({"service": None, "number": None, "status": None, "html_url": None},
         "Critical: Checkout API High Latency", "sev2"),
    ],
)  # fmt: skip
def test_vendored_fields_removed_leave_their_fields_empty(pagerduty, removed, title, severity):
    response = pagerduty.post(pagerduty_body("priority_updated_v3.json", **removed))
    assert response.status_code == 200, response.json()
    item = Incident.objects.get()
    assert (item.title, item.severity) == (title, severity)
    if "service" in removed:
        assert item.summary == "PagerDuty incident (incident.priority_updated)\n\nPriority: P2\n\nUrgency: high"


def test_a_vendored_incident_without_created_at_started_when_the_event_occurred(pagerduty):
    response = pagerduty.post(pagerduty_body("reopened_v3.json", created_at=None))
    assert response.status_code == 200
    assert Incident.objects.get().started_at == at("2026-04-01T02:15:02.274+00:00")


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda b: b["event"]["data"].pop("id"), ("event", "data", "id")),
        (lambda b: b["event"].pop("occurred_at"), ("event", "occurred_at")),
        (lambda b: b["event"].pop("data"), ("event", "data")),
        (lambda b: b["event"]["data"].update(title="Checkout\x00 latency"), ("event", "data", "title")),
        (lambda b: b["event"]["data"].update(title="x" * 20001), ("event", "data", "title")),
        (lambda b: b["event"]["data"]["service"].update(summary="pig208\x07"), ("event", "data", "service")),
        (lambda b: b["event"]["data"]["service"].update(summary="s" * 501), ("event", "data", "service")),
        (lambda b: b["event"]["data"].update(html_url="https://x/" + "x" * 2000), ("event", "data", "html_url")),
        (lambda b: b["event"]["data"].update(number=-9), ("event", "data", "number")),
        (lambda b: b["event"].update(id="01BZYIL05THJDFF2Y08X9SVMTU" * 4), ("event", "id")),
        (lambda b: b["event"].update(event_type="incident\ttriggered"), ("event", "event_type")),
    ],
)
def test_a_vendored_body_changed_out_of_bounds_is_a_400_naming_the_field(pagerduty, change, path):
    body = vendored("pagerduty", "triggered_v3.json")
    change(body)
    response = pagerduty.post(body)
    assert response.status_code == 400, response.content
    errors = response.json()
    for name in path:
        errors = errors[name]
    assert errors
    assert not Incident.objects.exists() and not HookDelivery.objects.exists()


def test_a_vendored_title_with_control_characters_and_oversized_becomes_one_bounded_line(pagerduty):
    title = "Test Incident 3\n\ron pig208\x1b[31m \u202egnp." + "x" * 5000
    response = pagerduty.post(pagerduty_body("triggered_v3.json", title=title))
    assert response.status_code == 200, response.json()
    stored = Incident.objects.get().title
    assert 150 < len(stored) <= 200 and stored.isprintable() and stored.startswith("Test Incident 3 on pig208")
