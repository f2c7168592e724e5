"""Prometheus Alertmanager's webhook_config (version 4), with a bearer token; Grafana's body shares its alerts."""

from __future__ import annotations

import hashlib
import json
from typing import Any, ClassVar

from django.conf import settings
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

from incidents import services
from incidents.api import examples as ex
from incidents.api.fields import OneLineField
from incidents.api.receivers.base import Delivery, Receiver
from incidents.api.strict import StrictJsonMixin


class AlertSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["firing", "resolved"])
    # Label values name things (alertname, service, env): one line each. Annotations are free text.
    labels = serializers.DictField(child=OneLineField(allow_blank=True, max_length=2000))
    annotations = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=20000), required=False, default=dict
    )
    startsAt = serializers.DateTimeField()
    endsAt = serializers.DateTimeField(required=False, allow_null=True)
    generatorURL = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    fingerprint = serializers.RegexField(r"^[0-9a-zA-Z]{1,64}$", required=False, max_length=64)

    def _check_names(self, value: dict) -> dict:
        bad = [name for name in value if not name or len(name) > 200 or not name.isprintable()]
        if bad:
            raise serializers.ValidationError(f"Names must be 1 to 200 printable characters: {bad[:3]!r}.")
        return value

    def validate_labels(self, value: dict) -> dict:
        return self._check_names(value)

    def validate_annotations(self, value: dict) -> dict:
        return self._check_names(value)


def _too_many_alerts(data: Any) -> None:
    limit = settings.ALERTMANAGER_MAX_ALERTS
    if isinstance(data, dict) and isinstance(data.get("alerts"), list) and len(data["alerts"]) > limit:
        raise ValidationError(
            {"alerts": [f"A notification may carry at most {limit} alerts (ALERTMANAGER_MAX_ALERTS); "
                        f"this one has {len(data['alerts'])}. Set max_alerts in the sender's configuration."]}
        )  # fmt: skip


class AlertmanagerPayloadSerializer(StrictJsonMixin):
    """Alertmanager's webhook_config body (version 4); fields not listed here are accepted and ignored."""

    version = serializers.ChoiceField(choices=["4"])
    status = serializers.ChoiceField(choices=["firing", "resolved"])
    receiver = serializers.CharField(required=False, allow_blank=True, max_length=200)
    externalURL = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    # max_length with many=True goes to the list serializer (DRF 3.14); the stubs' __init__ leaves it out.
    alerts = AlertSerializer(many=True, max_length=1000)  # type: ignore[call-arg]

    def to_internal_value(self, data):
        _too_many_alerts(data)
        return super().to_internal_value(data)


def _first_label(labels: dict[str, str], names: list[str]) -> str:
    return next((labels[name] for name in names if labels.get(name)), "")


def alert_event(alert: dict) -> services.TriageEvent:
    """One alert (Alertmanager's or Grafana's) as a triage event: one item per fingerprint and firing period."""
    labels, annotations = alert["labels"], alert["annotations"]
    fingerprint = (
        alert.get("fingerprint") or hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16]
    )
    ends_at = alert.get("endsAt")
    if ends_at is not None and ends_at.year <= 1:
        ends_at = None  # Alertmanager's zero time: "not given"
    name = labels.get("alertname") or f"Alert {fingerprint}"
    headline = annotations.get("summary") or annotations.get("description") or ""
    details = [annotations.get("description", "")] if annotations.get("description") != headline else []
    details.append("Labels: " + ", ".join(f"{key}={value}" for key, value in sorted(labels.items())))
    for key, what in (("generatorURL", "Source"), ("dashboardURL", "Dashboard"), ("panelURL", "Panel")):
        if alert.get(key):
            details.append(f"{what}: {alert[key]}")
    severity = _first_label(labels, settings.ALERTMANAGER_SEVERITY_LABELS).lower()
    return services.TriageEvent(
        key=f"{fingerprint}/{alert['startsAt'].isoformat()}",
        ref=fingerprint,
        resolved=alert["status"] == "resolved",
        title=f"{name}: {headline}" if headline else name,  # whole: the service redacts it before cutting it
        summary="\n\n".join(part for part in details if part),
        started_at=alert["startsAt"],
        resolved_at=ends_at,
        severity=services.ALERT_SEVERITIES.get(severity, ""),
        environment=_first_label(labels, settings.ALERTMANAGER_ENVIRONMENT_LABELS),
        service=_first_label(labels, settings.ALERTMANAGER_SERVICE_LABELS),
    )


class AlertmanagerReceiver(Receiver):
    source = "alertmanager"
    title = "Prometheus Alertmanager"
    key_name = "fingerprint"
    events_field = "alerts"
    max_events = 1000  # ALERTMANAGER_MAX_ALERTS is checked first, with its own message
    payload: ClassVar[type[serializers.Serializer]] = AlertmanagerPayloadSerializer
    schema: ClassVar[dict[str, Any]] = {
        "summary": "Receive an Alertmanager notification",
        "description": (
            "Point Alertmanager's webhook_config here (with `http_config.authorization` carrying the token). Each "
            "firing alert becomes a triage item of the team, one per fingerprint and firing period, with its "
            "service and environment taken from the labels named in ALERTMANAGER_SERVICE_LABELS and "
            "ALERTMANAGER_ENVIRONMENT_LABELS (through the hook's environment map, with a hook's token); a resolved "
            "notification sets the item's resolved time, and a notification sent again changes nothing "
            "(`unchanged`). The answer lists what happened to each alert. More than ALERTMANAGER_MAX_ALERTS alerts "
            "is a 400 naming `alerts`."
        ),
        "request": AlertmanagerPayloadSerializer,
        "examples": [
            ex.request("A firing alert", ex.ALERTMANAGER),
            ex.request("The same alert resolved", ex.ALERTMANAGER_RESOLVED),
            ex.response("A triage item was created", ex.ALERT_OUTCOME),
            ex.response("Its triage item was resolved", ex.ALERT_OUTCOME_RESOLVED),
        ],
    }

    def read(self, data: Any, request: Request) -> Delivery:
        payload = self.payload(data=data)
        payload.is_valid(raise_exception=True)
        return Delivery(
            event="notification", events=[alert_event(alert) for alert in payload.validated_data["alerts"]]
        )
