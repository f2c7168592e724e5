"""R4 retries: 20 concurrent POSTs with the same Idempotency-Key on PostgreSQL give exactly one row."""

from __future__ import annotations

import pytest

from incidents.models import Deployment, IdempotencyRecord, Incident
from tests.reliability.conftest import requires_postgresql, run_together

pytestmark = [
    pytest.mark.reliability,
    requires_postgresql,
    pytest.mark.django_db(transaction=True),
]

COUNT = 20


def _send_together(tool, url: str, body: dict, key: str) -> list:
    responses = run_together(COUNT, lambda _: tool.post(url, body, HTTP_IDEMPOTENCY_KEY=key))
    errors = [response for response in responses if isinstance(response, Exception)]
    assert errors == []
    return responses


def _check_answers(responses: list, created: int) -> dict:
    """Every answer is the first response (201, perhaps replayed) or 409 "still being processed"."""
    statuses = [response.status_code for response in responses]
    assert set(statuses) <= {created, 409}, statuses
    firsts = [response.json() for response in responses if response.status_code == created]
    assert firsts, "no request got the first response"
    assert all(body == firsts[0] for body in firsts)  # replays are byte-for-byte the first answer
    return firsts[0]


def test_twenty_concurrent_posts_with_one_key_make_one_incident(writer, settings):
    settings.API_WRITE_THROTTLE_RATE = "1000/min"
    body = {"kind": "incident", "title": "Checkout returns 502", "severity": "sev2", "environment": "prod"}
    responses = _send_together(writer, "/api/v1/incidents/", body, "retry-incident-1")
    first = _check_answers(responses, 201)
    assert Incident.objects.count() == 1
    assert Incident.objects.get().reference == first["reference"]
    record = IdempotencyRecord.objects.get()
    assert record.state == IdempotencyRecord.State.DONE and record.response_status == 201
    # A later retry is answered from the record, and still nothing new is stored.
    replay = writer.post("/api/v1/incidents/", body, HTTP_IDEMPOTENCY_KEY="retry-incident-1")
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true" and replay.json() == first
    assert Incident.objects.count() == 1


def test_twenty_concurrent_deployments_with_one_key_make_one_deployment(writer, service, settings):
    settings.API_WRITE_THROTTLE_RATE = "1000/min"
    body = {"service": service.slug, "version": "2.0.0", "environment": "prod", "status": "succeeded"}
    responses = _send_together(writer, "/api/v1/deployments/", body, "retry-deploy-1")
    first = _check_answers(responses, 201)
    assert Deployment.objects.count() == 1
    assert Deployment.objects.get().pk == first["id"]
