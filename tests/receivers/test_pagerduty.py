"""PagerDuty v3 webhooks: signed per hook; incidents triggered, acknowledged and resolved."""

from __future__ import annotations

import copy
import json

import pytest

from incidents.api import examples as ex
from incidents.api.receivers.pagerduty import pagerduty_signature
from incidents.models import HookDelivery, Incident
from tests.factories import ServiceFactory
from tests.receivers.conftest import Sender, hook_of

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
