"""Datadog's Webhooks integration, with a bearer token in a custom header: monitor notifications into triage.

Datadog posts a payload template that the user writes with its `$VARIABLES`; docs/receivers/datadog.md gives the
recommended one, and Datadog's default payload (body, last_updated, event_type, title, date, org, id) is read too.
Datadog fills a variable that has no value with an empty string, so every field but `id` may be empty.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, ClassVar

from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request

from incidents import services
from incidents.api import examples as ex
from incidents.api.receivers.base import Delivery, Receiver, bounded_join, tag_value
from incidents.api.strict import StrictJsonMixin
from incidents.limits import DATE_RANGE_TEXT, date_in_range, one_line
from incidents.models import Incident

# $ALERT_TRANSITION values (any case) that mean "this alert is happening" (filed if new) and "it is over"; every
# other one is answered 202 "ignored".
OPEN_TRANSITIONS = ("Triggered", "Re-Triggered", "Warn", "Re-Warn", "No Data", "Re-No Data")
RESOLVE_TRANSITIONS = ("Recovered",)
TRANSITIONS = {name.lower(): name for name in OPEN_TRANSITIONS + RESOLVE_TRANSITIONS}
WARN_TRANSITIONS = ("Warn", "Re-Warn")
PRIORITIES: dict[str, str] = {"P1": Incident.Severity.SEV1, "P2": Incident.Severity.SEV2, "P3": Incident.Severity.SEV3,
              "P4": Incident.Severity.SEV4, "P5": Incident.Severity.SEV4}  # fmt: skip
ENVIRONMENT_TAGS = ("env", "environment")
SERVICE_TAGS = ("service",)
MAX_TAGS = 200
# The event title of a monitor notification starts with its priority and transition: "[P1] [Triggered on
# {host:web-1}] Checkout 5xx". The default payload has no $ALERT_TRANSITION: the title says it.
TITLE_PREFIX = re.compile(r"^\s*(?:\[P[1-5]\]\s*)?\[([A-Za-z -]{1,20}?)(?: on [^\]]{0,2000})?\]\s*")
# An epoch number below this is seconds ($DATE_POSIX), from it on milliseconds ($DATE, $LAST_UPDATED): 10^11 s is
# in the year 5138, 10^11 ms in 1973.
MILLISECONDS_FROM = 10**11


@extend_schema_field({"oneOf": [{"type": "string", "maxLength": 100}, {"type": "integer", "minimum": 0}]})
class DatadogIdField(serializers.Field):
    """An id that a template may send quoted ("$ID") or not ($ID): letters, digits, `-` or `_`, or empty."""

    default_error_messages = {"invalid": "Send 1 to 100 letters, digits, '-' or '_' (or a whole number)."}

    def to_internal_value(self, data: Any) -> str:
        if isinstance(data, int) and not isinstance(data, bool) and 0 <= data < 10**30:
            return str(data)
        if isinstance(data, str) and re.fullmatch(r"[0-9A-Za-z_-]{0,100}", data.strip()):
            return data.strip()
        self.fail("invalid")

    def to_representation(self, value: Any) -> str:
        return str(value)


@extend_schema_field({"oneOf": [{"type": "string"}, {"type": "integer", "minimum": 0}]})
class DatadogTimeField(serializers.Field):
    """$DATE and $LAST_UPDATED: milliseconds since the epoch (seconds below 10^11), quoted or not, or an ISO 8601
    time; empty is none. Within the years every door accepts."""

    default_error_messages = {
        "invalid": "Send milliseconds (or seconds) since 1970-01-01, or an ISO 8601 time.",
        "range": f"Give a date {DATE_RANGE_TEXT}.",
    }

    def to_internal_value(self, data: Any) -> dt.datetime | None:
        if isinstance(data, str) and not data.strip():
            return None
        if isinstance(data, str) and data.strip().isdigit() and len(data.strip()) <= 20:
            data = int(data.strip())
        if isinstance(data, int) and not isinstance(data, bool):
            moment = _epoch(data)
        elif isinstance(data, str) and len(data) <= 50:
            moment = _iso(data.strip())
        else:
            self.fail("invalid")
        if moment is None:
            self.fail("invalid" if isinstance(data, str) else "range")
        if not date_in_range(moment):
            self.fail("range")
        return moment

    def to_representation(self, value: Any) -> str:
        return value.isoformat() if isinstance(value, dt.datetime) else str(value)


def _epoch(number: int) -> dt.datetime | None:
    seconds = number if number < MILLISECONDS_FROM else number / 1000
    try:
        return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _iso(text: str) -> dt.datetime | None:
    try:
        moment = parse_datetime(text)
    except ValueError:
        return None
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment


class DatadogOrgSerializer(serializers.Serializer):
    id = DatadogIdField(required=False)
    name = serializers.CharField(max_length=500, required=False, allow_blank=True)


class DatadogPayloadSerializer(StrictJsonMixin):
    """The recommended template of docs/receivers/datadog.md, of which Datadog's default payload is a part; fields
    not listed are accepted and ignored."""

    id = DatadogIdField()  # $ID
    title = serializers.CharField(max_length=20000, required=False, allow_blank=True)  # $EVENT_TITLE
    body = serializers.CharField(max_length=20000, required=False, allow_blank=True)  # $EVENT_MSG
    event_type = serializers.CharField(max_length=100, required=False, allow_blank=True)  # $EVENT_TYPE
    date = DatadogTimeField(required=False)  # $DATE
    last_updated = DatadogTimeField(required=False)  # $LAST_UPDATED
    org = DatadogOrgSerializer(required=False)  # $ORG_ID, $ORG_NAME
    alert_id = DatadogIdField(required=False)  # $ALERT_ID
    alert_cycle_key = serializers.CharField(max_length=200, required=False, allow_blank=True)  # $ALERT_CYCLE_KEY
    aggreg_key = serializers.CharField(max_length=200, required=False, allow_blank=True)  # $AGGREG_KEY
    alert_transition = serializers.CharField(max_length=50, required=False, allow_blank=True)  # $ALERT_TRANSITION
    alert_priority = serializers.CharField(max_length=10, required=False, allow_blank=True)  # $ALERT_PRIORITY
    alert_title = serializers.CharField(max_length=2000, required=False, allow_blank=True)  # $ALERT_TITLE
    alert_status = serializers.CharField(max_length=2000, required=False, allow_blank=True)  # $ALERT_STATUS
    alert_type = serializers.CharField(max_length=50, required=False, allow_blank=True)  # $ALERT_TYPE
    alert_metric = serializers.CharField(max_length=500, required=False, allow_blank=True)  # $ALERT_METRIC
    alert_scope = serializers.CharField(max_length=2000, required=False, allow_blank=True)  # $ALERT_SCOPE
    hostname = serializers.CharField(max_length=1000, required=False, allow_blank=True)  # $HOSTNAME
    link = serializers.CharField(max_length=2000, required=False, allow_blank=True)  # $LINK
    tags = serializers.CharField(max_length=20000, required=False, allow_blank=True)  # $TAGS

    def validate_id(self, value: str) -> str:
        if not value:
            raise serializers.ValidationError("This field may not be blank.")
        return value

    def validate_alert_priority(self, value: str) -> str:
        if value.strip() and value.strip().upper() not in PRIORITIES:
            raise serializers.ValidationError('Send "P1" to "P5", or nothing.')
        return value.strip().upper()

    def validate_tags(self, value: str) -> list[str]:
        tags = [tag.strip() for tag in value.split(",") if tag.strip()]
        if len(tags) > MAX_TAGS:
            raise serializers.ValidationError(f"Send at most {MAX_TAGS} tags.")
        return tags


def _transition(payload: dict) -> str:
    """$ALERT_TRANSITION as Datadog names it, else the one the event title starts with; "" when neither says."""
    given = one_line(payload.get("alert_transition", ""))
    if not given:
        found = TITLE_PREFIX.match(payload.get("title", ""))
        given = found.group(1).strip() if found else ""
    return TRANSITIONS.get(given.lower(), given)


class DatadogReceiver(Receiver):
    source = "datadog"
    title = "Datadog"
    schema: ClassVar[dict[str, Any]] = {
        "summary": "Receive a Datadog monitor notification",
        "description": (
            "Add a webhook in Datadog's Webhooks integration with this URL, the custom header `Authorization: "
            "Bearer <token>` carrying a datadog hook's token and the payload template of docs/receivers/"
            "datadog.md (Datadog's default payload is read too), then mention it (`@webhook-<name>`) in a "
            "monitor's message. $ALERT_TRANSITION Triggered, Re-Triggered, Warn, Re-Warn, No Data and Re-No Data "
            "file a triage item per alert (its $ALERT_CYCLE_KEY, else $AGGREG_KEY, else $ALERT_ID, else $ID), "
            "Recovered sets its resolved time; other transitions are a 202 saying they are ignored. The severity "
            "is $ALERT_PRIORITY (P1 → sev1 … P4 and P5 → sev4), else sev3 for a warning; the environment the tag "
            "`env:…` through the hook's map; the service the hook's, else the tag `service:…`, as a Hindsight "
            "service slug or name. A notification sent again changes nothing (`unchanged`)."
        ),
        "request": DatadogPayloadSerializer,
        "examples": [
            ex.request("Triggered", ex.DATADOG_TRIGGERED),
            ex.request("Recovered", ex.DATADOG_RECOVERED),
            ex.response("A triage item was created", ex.DATADOG_OUTCOME, status_codes=("200",)),
            ex.response("A transition that is not read", ex.DATADOG_IGNORED, status_codes=("202",)),
        ],
    }

    def read(self, data: Any, request: Request) -> Delivery:
        payload = DatadogPayloadSerializer(data=data)
        payload.is_valid(raise_exception=True)
        values = payload.validated_data
        transition = _transition(values)
        if transition not in OPEN_TRANSITIONS + RESOLVE_TRANSITIONS:
            event = (transition or one_line(values.get("event_type", "")) or "notification")[:50]
            return Delivery(event=event, ignored=f"Event {event!r} ignored.")
        return Delivery(event=transition, events=[_event(values, transition)])


def _title(values: dict) -> str:
    for text in (values.get("alert_title", ""), values.get("title", "")):
        found = TITLE_PREFIX.match(text)
        title = text[found.end() :] if found and found.group(1).strip().lower() in TRANSITIONS else text
        if title := title.strip():
            return title
    return ""


def _event(values: dict, transition: str) -> services.TriageEvent:
    tags = values.get("tags", [])
    priority = values.get("alert_priority", "")
    key = next(values[name] for name in ("alert_cycle_key", "aggreg_key", "alert_id", "id") if values.get(name))
    resolved = transition in RESOLVE_TRANSITIONS
    moment = values.get("date") or values.get("last_updated")
    facts = [(what, one_line(value)) for what, value in (
        ("Priority", priority), ("Status", values.get("alert_status", "")), ("Type", values.get("alert_type", "")),
        ("Metric", values.get("alert_metric", "")), ("Scope", values.get("alert_scope", "")),
        ("Host", values.get("hostname", "")), ("Tags", ", ".join(tags)), ("Monitor", values.get("alert_id", "")),
        ("Organisation", (values.get("org") or {}).get("name", "")), ("Link", values.get("link", "")),
    ) if value.strip()]  # fmt: skip
    event_type = one_line(values.get("event_type", ""))
    parts = [
        f"Datadog {transition}" + (f" ({event_type})" if event_type else ""),
        values.get("body", "").strip(),
        "\n".join(f"{what}: {value}" for what, value in facts),
    ]
    return services.TriageEvent(
        key=key,
        ref=key,
        resolved=resolved,
        title=_title(values) or f"Datadog alert {values.get('alert_id') or values['id']}",
        summary=bounded_join(parts),
        started_at=moment,
        resolved_at=moment if resolved else None,
        severity=PRIORITIES.get(priority) or (Incident.Severity.SEV3 if transition in WARN_TRANSITIONS else ""),
        environment=tag_value(tags, ENVIRONMENT_TAGS),
        service=tag_value(tags, SERVICE_TAGS),
    )
