"""Concurrent copies of one delivery record it once, on every receiver (PostgreSQL only)."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test import Client

from incidents.api import examples as ex
from incidents.api.receivers.pagerduty import pagerduty_signature
from incidents.audit import acting_as
from incidents.models import HookDelivery, Incident
from incidents.services import hook_create
from incidents.services import hooks as hook_services
from incidents.services import incidents as incident_services
from tests.api.conftest import payload
from tests.api.test_concurrency import run_together
from tests.factories import TeamFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="concurrent writers need PostgreSQL: SQLite serialises whole-database writes",
    ),
]


@pytest.fixture
def payments():
    return TeamFactory(slug="payments", name="Payments")


def test_concurrent_copies_of_one_pagerduty_event_record_it_once(payments):
    with acting_as(label="test"):
        created = hook_create(source="pagerduty", name="pd", team=payments, secret="a-pagerduty-signing-secret")
    raw = json.dumps(ex.PAGERDUTY_TRIGGERED).encode()

    def deliver():
        return Client().post("/api/v1/hooks/pagerduty/", raw, content_type="application/json",
                             headers={"X-PagerDuty-Signature": pagerduty_signature(created.secret, raw)})  # fmt: skip

    responses = run_together(3, deliver, barrier_in="hook_delivery_claim", target=hook_services)
    assert [response.status_code for response in responses] == [200, 200, 200]
    assert sorted(len(response.json()["created"]) for response in responses) == [0, 0, 1]
    assert Incident.objects.count() == 1
    assert HookDelivery.objects.get().repeats == 2


def test_concurrent_copies_of_one_alert_without_a_delivery_id_file_one_item(payments):
    with acting_as(label="test"):
        created = hook_create(source="alertmanager", name="prometheus", team=payments)
    body = payload("alertmanager_firing.json")
    body["alerts"] = body["alerts"][:1]
    raw = json.dumps(body).encode()

    def deliver():
        return Client().post("/api/v1/hooks/alertmanager/", raw, content_type="application/json",
                             headers={"Authorization": f"Bearer {created.secret}"})  # fmt: skip

    responses = run_together(3, deliver, barrier_in="_store_new_incident", target=incident_services)
    assert [response.status_code for response in responses] == [200, 200, 200], [r.content for r in responses]
    outcomes = sorted((len(r.json()["created"]), len(r.json()["unchanged"])) for r in responses)
    assert outcomes == [(0, 1), (0, 1), (1, 0)]
    assert Incident.objects.count() == 1
