"""Idempotency keys and source + external_id hold under concurrent requests (PostgreSQL only)."""

from __future__ import annotations

import threading
from unittest import mock

import pytest
from django.db import connection, connections

from incidents import services
from incidents.models import ApiToken, IdempotencyRecord, Incident
from incidents.services import incidents as incident_services
from incidents.services import tools as tool_services
from tests.api.conftest import Tool
from tests.factories import TeamFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="concurrent writers need PostgreSQL: SQLite serialises whole-database writes",
    ),
]

URL = "/api/v1/incidents/"


def run_together(count: int, request, *, barrier_in: str, target) -> list:
    """Send `count` requests from threads that all wait at a barrier placed inside `barrier_in`."""
    barrier = threading.Barrier(count, timeout=20)
    original = getattr(target, barrier_in)

    def waiting(*args, **kwargs):
        barrier.wait()
        return original(*args, **kwargs)

    results: list = [None] * count

    def worker(index: int) -> None:
        try:
            results[index] = request()
        finally:
            connections.close_all()

    with mock.patch.object(target, barrier_in, waiting):
        threads = [threading.Thread(target=worker, args=(index,)) for index in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    return results


@pytest.fixture
def tool():
    team = TeamFactory(slug="payments", name="Payments")
    return Tool(*services.api_token_create(name="ci", team=team, scope=ApiToken.Scope.WRITE))


def test_concurrent_same_external_id_creates_one_item(tool):
    body = {"kind": "incident", "title": "Checkout 500s", "source": "incident-bot", "external_id": "PD-42"}
    responses = run_together(
        4, lambda: tool.post(URL, body), barrier_in="_check_external_id", target=incident_services
    )
    assert Incident.objects.count() == 1
    assert sorted(response.status_code for response in responses) == [200, 200, 200, 201]
    assert {response.json()["reference"] for response in responses} == {Incident.objects.get().reference}


def test_concurrent_same_idempotency_key_runs_once(tool):
    body = {"kind": "incident", "title": "Checkout 500s"}
    responses = run_together(
        3, lambda: tool.post(URL, body, HTTP_IDEMPOTENCY_KEY="retry-1"), barrier_in="_idempotency_purge",
        target=tool_services,
    )  # fmt: skip
    statuses = sorted(response.status_code for response in responses)
    assert Incident.objects.count() == 1
    assert statuses.count(201) >= 1 and set(statuses) <= {201, 409}
    assert IdempotencyRecord.objects.get().state == "done"
    replay = tool.post(URL, body, HTTP_IDEMPOTENCY_KEY="retry-1")
    first = next(response for response in responses if response.status_code == 201)
    assert replay.status_code == 201 and replay.json() == first.json()


def test_retry_during_a_running_request_gets_409(tool):
    body = {"kind": "incident", "title": "Checkout 500s"}
    entered, release = threading.Event(), threading.Event()
    original = services.incident_record_for_tool

    def slow(**kwargs):
        entered.set()
        assert release.wait(timeout=20)
        return original(**kwargs)

    results: dict = {}

    def first_request() -> None:
        try:
            results["first"] = tool.post(URL, body, HTTP_IDEMPOTENCY_KEY="slow")
        finally:
            connections.close_all()

    with mock.patch.object(services, "incident_record_for_tool", slow):
        thread = threading.Thread(target=first_request)
        thread.start()
        assert entered.wait(timeout=20)
        results["retry"] = tool.post(URL, body, HTTP_IDEMPOTENCY_KEY="slow")
        release.set()
        thread.join(timeout=60)
    assert results["retry"].status_code == 409
    assert results["first"].status_code == 201
    assert Incident.objects.count() == 1


def test_concurrent_copies_of_one_github_delivery_record_it_once(tool):
    import json

    from rest_framework.test import APIClient

    from incidents.models import Deployment, Hook, HookDelivery
    from incidents.services import releases as release_services
    from incidents.tokens import github_signature
    from tests.api.conftest import payload
    from tests.factories import ServiceFactory

    secret = "a-long-enough-webhook-secret"
    team = tool.token.team
    Hook.objects.create(name="acme/checkout", team=team, service=ServiceFactory(owner_team=team),
                              secret=secret, environment_map={"production": "prod"})  # fmt: skip
    raw = json.dumps(payload("github_deployment_status.json")).encode()

    def deliver():
        return APIClient().post(
            "/api/v1/hooks/github/", raw, content_type="application/json", HTTP_X_GITHUB_EVENT="deployment_status",
            HTTP_X_HUB_SIGNATURE_256=github_signature(secret, raw), HTTP_X_GITHUB_DELIVERY="guid-1",
        )  # fmt: skip

    responses = run_together(3, deliver, barrier_in="hook_delivery_claim", target=release_services)
    assert [response.status_code for response in responses] == [200, 200, 200]
    details = sorted(response.json()["detail"] for response in responses)
    assert details == [
        "Delivery guid-1 already received.",
        "Delivery guid-1 already received.",
        "Deployment recorded.",
    ]
    assert Deployment.objects.count() == 1
    assert HookDelivery.objects.get().repeats == 2
