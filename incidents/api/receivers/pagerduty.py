"""PagerDuty v3 webhooks (a webhook subscription), signed in X-PagerDuty-Signature: incidents into triage."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any, ClassVar

from rest_framework import serializers
from rest_framework.request import Request

from incidents import services
from incidents.api import examples as ex
from incidents.api.fields import OneLineField
from incidents.api.receivers.base import Delivery, Receiver, signature_matches
from incidents.api.strict import StrictJsonMixin
from incidents.models import Incident

# incident.* event types that mean "this incident is happening" (the item is filed if it is new) and "it is over".
OPEN_EVENTS = ("incident.triggered", "incident.acknowledged", "incident.unacknowledged", "incident.reopened",
               "incident.escalated", "incident.reassigned", "incident.priority_updated")  # fmt: skip
RESOLVE_EVENTS = ("incident.resolved",)
# PagerDuty's priorities (an account's default names) and, without one, its urgency.
PRIORITIES: dict[str, str] = {"P1": Incident.Severity.SEV1, "P2": Incident.Severity.SEV2, "P3": Incident.Severity.SEV3,
              "P4": Incident.Severity.SEV4, "P5": Incident.Severity.SEV4}  # fmt: skip
URGENCIES: dict[str, str] = {"high": Incident.Severity.SEV2, "low": Incident.Severity.SEV3}


class ReferenceSerializer(serializers.Serializer):
    id = serializers.CharField(max_length=100, required=False, allow_blank=True)
    summary = OneLineField(max_length=500, required=False, allow_blank=True)
    html_url = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class PagerDutyIncidentSerializer(serializers.Serializer):
    id = serializers.RegexField(r"^[0-9A-Za-z_-]{1,100}$", max_length=100)
    type = serializers.CharField(max_length=50, required=False)
    number = serializers.IntegerField(required=False, min_value=0, max_value=2**63 - 1)
    title = serializers.CharField(max_length=20000, required=False, allow_blank=True)
    status = serializers.CharField(max_length=50, required=False, allow_blank=True)
    urgency = serializers.CharField(max_length=50, required=False, allow_blank=True)
    html_url = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    created_at = serializers.DateTimeField(required=False)
    service = ReferenceSerializer(required=False, allow_null=True)
    priority = ReferenceSerializer(required=False, allow_null=True)


class PagerDutyEventSerializer(serializers.Serializer):
    id = serializers.RegexField(r"^[0-9A-Za-z_-]{1,100}$", max_length=100)
    event_type = serializers.RegexField(r"^[a-z_.]{1,50}$", max_length=50)
    resource_type = serializers.CharField(max_length=50, required=False)
    occurred_at = serializers.DateTimeField()
    # Read as an incident for incident.* events only. A field named like Serializer.data: the serializer's
    # metaclass takes declared fields off the class.
    data = serializers.DictField()  # type: ignore[assignment]


class PagerDutyPayloadSerializer(StrictJsonMixin):
    """A v3 webhook body: `{"event": {...}}`; fields not listed here are accepted and ignored."""

    event = PagerDutyEventSerializer()


def pagerduty_signature(secret: str, body: bytes) -> str:
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class PagerDutyReceiver(Receiver):
    source = "pagerduty"
    title = "PagerDuty"
    signed = True
    signature_header = "X-PagerDuty-Signature"
    schema: ClassVar[dict[str, Any]] = {
        "summary": "Receive a PagerDuty webhook (v3)",
        "description": (
            "Add this URL as a PagerDuty v3 webhook subscription (Integrations → Generic Webhooks (v3)) for "
            "incident events, with the signing secret PagerDuty shows stored in a pagerduty hook (`python manage.py "
            "create_hook pagerduty … --secret S`). incident.triggered (and the other incident events of an open "
            "incident) files a triage item per PagerDuty incident, incident.resolved sets its resolved time. The "
            "severity is the priority (P1 → sev1 … P4 and P5 → sev4), else the urgency (high → sev2, low → "
            "sev3); the service is the hook's, else the PagerDuty service's name as a Hindsight service slug or "
            "name; the environment is the hook's map of PagerDuty service names (`*` for all). An event id seen "
            "before changes nothing."
        ),
        "request": PagerDutyPayloadSerializer,
        "examples": [
            ex.request("incident.triggered", ex.PAGERDUTY_TRIGGERED),
            ex.response("A triage item was created", ex.HOOK_OUTCOME, status_codes=("200",)),
            ex.response("An event type that is not read", ex.HOOK_IGNORED, status_codes=("202",)),
        ],
    }

    def signature(self, secret: str, body: bytes) -> str:
        return pagerduty_signature(secret, body)

    def signature_valid(self, secret: str, body: bytes, given: str) -> bool:
        # Several signatures while a secret is being rotated: `v1=<hex>,v1=<hex>`.
        expected = pagerduty_signature(secret, body)
        return any(signature_matches(expected, part.strip()) for part in given.split(",")[:10])

    def read(self, data: Any, request: Request) -> Delivery:
        payload = PagerDutyPayloadSerializer(data=data)
        payload.is_valid(raise_exception=True)
        event = payload.validated_data["event"]
        event_type = event["event_type"]
        if event_type not in OPEN_EVENTS + RESOLVE_EVENTS:
            return Delivery(event=event_type, ignored=f"Event {event_type!r} ignored.", delivery_id=event["id"])
        incident = PagerDutyIncidentSerializer(data=event["data"])
        if not incident.is_valid():
            raise serializers.ValidationError({"event": {"data": incident.errors}})
        return Delivery(event=event_type, events=[_event(incident.validated_data, event)], delivery_id=event["id"])


def _event(incident: dict, event: dict) -> services.TriageEvent:
    service = (incident.get("service") or {}).get("summary", "")
    priority = (incident.get("priority") or {}).get("summary", "")
    severity = PRIORITIES.get(priority.upper()) or URGENCIES.get(incident.get("urgency", ""), "")
    number = f" #{incident['number']}" if incident.get("number") else ""
    details = [f"PagerDuty incident{number} ({incident.get('status') or event['event_type']})"]
    details += [f"{name}: {value}" for name, value in
                (("Service", service), ("Priority", priority), ("Urgency", incident.get("urgency", "")),
                 ("Link", incident.get("html_url", ""))) if value]  # fmt: skip
    return services.TriageEvent(
        key=incident["id"],
        ref=incident["id"],
        resolved=event["event_type"] in RESOLVE_EVENTS,
        title=incident.get("title") or f"PagerDuty incident {incident['id']}",
        summary="\n\n".join(details),
        started_at=incident.get("created_at") or event["occurred_at"],
        resolved_at=event["occurred_at"] if event["event_type"] in RESOLVE_EVENTS else None,
        severity=severity,
        environment=service,
        service=service,
    )
