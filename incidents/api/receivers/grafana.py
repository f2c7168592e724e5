"""Grafana alerting's webhook contact point (body version 1), with a bearer token: alerts into triage.

Grafana's body is Alertmanager's with a few fields more, so an alert becomes a triage event as an Alertmanager
alert does (alertmanager.alert_event): one item per fingerprint and firing period, severity, environment and
service from the labels the ALERTMANAGER_*_LABELS settings name.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from rest_framework import serializers
from rest_framework.request import Request

from incidents import services
from incidents.api import examples as ex
from incidents.api.fields import InRangeDateTimeField
from incidents.api.receivers.alertmanager import AlertSerializer, _too_many_alerts, alert_event
from incidents.api.receivers.base import Delivery, Receiver
from incidents.api.strict import StrictJsonMixin
from incidents.limits import DATE_RANGE_TEXT, LONG_TEXT_MAX, date_in_range, one_line

# The alert Grafana sends when a person presses "Test" on the contact point (its default test notification).
TEST_LABELS = {"alertname": "TestAlert", "instance": "Grafana"}
TEST_SUMMARY = "Notification test"
MAX_VALUES = 100  # a rule's query and expression results, by reference id (A, B, C, ...)
# Fields only the body of Grafana's legacy dashboard alerting has (the default before Grafana 9, removed in
# Grafana 11): one rule's state, without `alerts`, times or fingerprints. Such a body is one 400 saying so, rather
# than one per missing field.
LEGACY_FIELDS = ("ruleId", "ruleName", "evalMatches")
LEGACY_DETAIL = (
    "This is the body of Grafana's legacy alerting (ruleName, evalMatches; removed in Grafana 11), which is not "
    'read: use a Webhook contact point of Grafana alerting (Grafana 8 and later, body version "1").'
)


class GrafanaAlertSerializer(AlertSerializer):
    startsAt = InRangeDateTimeField()
    silenceURL = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    dashboardURL = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    panelURL = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    imageURL = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    values = serializers.DictField(child=serializers.FloatField(), required=False, allow_null=True)
    valueString = serializers.CharField(required=False, allow_blank=True, max_length=5000)

    def validate_endsAt(self, value):
        # Grafana's zero time ("0001-01-01T00:00:00Z") means "not resolved"; any other time is in range.
        if value is not None and value.year > 1 and not date_in_range(value):
            raise serializers.ValidationError(f"Give a date {DATE_RANGE_TEXT}.")
        return value

    def validate_values(self, value):
        if value is not None and len(value) > MAX_VALUES:
            raise serializers.ValidationError(f"Send at most {MAX_VALUES} values.")
        return value


class GrafanaPayloadSerializer(StrictJsonMixin):
    """Grafana's webhook body (version 1); fields not listed here (groupKey, groupLabels, commonLabels,
    commonAnnotations, and title, state and message, which Grafana deprecates) are accepted and ignored."""

    version = serializers.ChoiceField(choices=["1"])
    status = serializers.ChoiceField(choices=["firing", "resolved"])
    orgId = serializers.IntegerField(required=False, min_value=0, max_value=2**63 - 1)
    receiver = serializers.CharField(required=False, allow_blank=True, max_length=500)
    externalURL = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    truncatedAlerts = serializers.IntegerField(required=False, min_value=0, max_value=2**31 - 1)
    # max_length with many=True goes to the list serializer (DRF 3.14); the stubs' __init__ leaves it out.
    alerts = GrafanaAlertSerializer(many=True, max_length=1000)  # type: ignore[call-arg]

    def to_internal_value(self, data):
        if isinstance(data, dict) and "alerts" not in data and any(name in data for name in LEGACY_FIELDS):
            raise serializers.ValidationError({"version": [LEGACY_DETAIL]})
        _too_many_alerts(data)
        return super().to_internal_value(data)


def truncation_warning(left_out: int) -> dict[str, Any]:
    """The answer's warning for alerts Grafana left out of a notification (its Max Alerts): never seen here."""
    alerts = "1 alert" if left_out == 1 else f"{left_out} alerts"
    return {
        "truncatedAlerts": left_out,
        "detail": f"Grafana left {alerts} out of this notification (the contact point's Max Alerts); they are not "
        "recorded unless a later notification carries them. Raise Max Alerts, up to ALERTMANAGER_MAX_ALERTS.",
    }


def is_test_alert(alert: dict) -> bool:
    labels = alert["labels"]
    return (
        all(labels.get(name) == value for name, value in TEST_LABELS.items())
        and alert["annotations"].get("summary") == TEST_SUMMARY
    )


def grafana_event(alert: dict) -> services.TriageEvent:
    """An alert as alertmanager.alert_event reads it, with what Grafana adds: the values that fired it and the
    panel's screenshot."""
    event = alert_event(alert)
    values = alert.get("values") or {}
    measured = one_line(alert.get("valueString", "")) or ", ".join(
        f"{name}={value:g}" for name, value in sorted(values.items())
    )
    lines = [f"Values: {measured}"] if measured else []
    if alert.get("imageURL"):
        lines.append(f"Image: {alert['imageURL']}")
    added = "\n".join(lines)
    if added and len(event.summary) + len(added) + 2 <= LONG_TEXT_MAX:  # else the summary as alert_event made it
        return dataclasses.replace(event, summary=f"{event.summary}\n\n{added}")
    return event


class GrafanaReceiver(Receiver):
    source = "grafana"
    title = "Grafana"
    key_name = "fingerprint"
    events_field = "alerts"
    max_events = 1000  # ALERTMANAGER_MAX_ALERTS is checked first, with its own message
    schema: ClassVar[dict[str, Any]] = {
        "summary": "Receive a Grafana alerting notification",
        "description": (
            "Point a Grafana contact point of the Webhook integration here (Alerting → Contact points), with "
            "the Authorization header's scheme Bearer and a grafana hook's token as its credentials. Each alert "
            "becomes a triage item of the team, one per fingerprint and firing period, read as an Alertmanager "
            "alert is: severity, service and environment from the labels named in ALERTMANAGER_SEVERITY_LABELS, "
            "ALERTMANAGER_SERVICE_LABELS and ALERTMANAGER_ENVIRONMENT_LABELS (through the hook's environment "
            "map); a resolved alert sets the item's resolved time, and a notification sent again changes nothing "
            "(`unchanged`). Grafana's test notification (TestAlert) is a 202 saying it is ignored. More than "
            "ALERTMANAGER_MAX_ALERTS alerts is a 400 naming `alerts`; alerts that Grafana left out "
            "(`truncatedAlerts`) are named in `warnings`. A body of Grafana's legacy dashboard alerting "
            "is a 400 naming `version`."
        ),
        "request": GrafanaPayloadSerializer,
        "examples": [
            ex.request("A firing alert", ex.GRAFANA),
            ex.request("The same alert resolved", ex.GRAFANA_RESOLVED),
            ex.response("A triage item was created", ex.GRAFANA_OUTCOME, status_codes=("200",)),
            ex.response("Grafana's test notification", ex.GRAFANA_TEST_IGNORED, status_codes=("202",)),
        ],
    }

    def read(self, data: Any, request: Request) -> Delivery:
        payload = GrafanaPayloadSerializer(data=data)
        payload.is_valid(raise_exception=True)
        alerts = payload.validated_data["alerts"]
        left_out = payload.validated_data.get("truncatedAlerts") or 0
        warnings = [truncation_warning(left_out)] if left_out else []
        real = [alert for alert in alerts if not is_test_alert(alert)]
        if alerts and not real:
            return Delivery(event="test", ignored="Grafana's test notification ignored.", warnings=warnings)
        return Delivery(event="notification", events=[grafana_event(alert) for alert in real], warnings=warnings)
