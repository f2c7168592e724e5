"""Opsgenie's outgoing Webhook integration, with a bearer token in a custom header: alerts into triage."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request

from incidents import services
from incidents.api import examples as ex
from incidents.api.fields import OneLineField
from incidents.api.receivers.base import Delivery, Receiver, bounded_join, tag_value
from incidents.api.strict import StrictJsonMixin
from incidents.limits import date_in_range, one_line
from incidents.models import Incident

# Actions (Opsgenie's names, as the webhook sends them in `action`) that are read. Create files the alert; the
# open ones can only happen to an open alert, so they file it when it is new (the Create was not mapped, or lost)
# and leave a known one unchanged; Close resolves it. Everything else (AddNote, AssignOwnership, TakeOwnership,
# AddTags, RemoveTags, AddRecipient, AddTeam, Delete, Snooze, custom actions, ...) is answered 202 "ignored":
# those can happen to a closed alert too, and a Delete is not a resolution (the item keeps what happened).
CREATE_ACTIONS = ("Create",)
OPEN_ACTIONS = ("Acknowledge", "UnAcknowledge", "Escalate")
RESOLVE_ACTIONS = ("Close",)
PRIORITIES: dict[str, str] = {"P1": Incident.Severity.SEV1, "P2": Incident.Severity.SEV2, "P3": Incident.Severity.SEV3,
              "P4": Incident.Severity.SEV4, "P5": Incident.Severity.SEV4}  # fmt: skip
# Tag prefixes (`env:prod`, `service=checkout-api`) and detail keys naming the environment and the service.
ENVIRONMENT_NAMES = ("environment", "env")
SERVICE_NAMES = ("service",)
# Opsgenie's own limits are lower (20 tags of 50 characters, 8,000 characters of details): room for changes.
MAX_TAGS = 100
MAX_DETAILS = 200
# An epoch number this large is nanoseconds (updatedAt); below it, milliseconds (createdAt). 10^15 ms is far past
# the year 2100 and 10^15 ns is in 1970, so the two never overlap within the years Hindsight stores.
NANOSECONDS_FROM = 10**15


def epoch_time(value: int) -> dt.datetime | None:
    """An Opsgenie epoch number (milliseconds, or nanoseconds for updatedAt) as a time, None out of range."""
    seconds = value / 1e9 if value >= NANOSECONDS_FROM else value / 1e3
    try:
        moment = dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return moment if date_in_range(moment) else None


class EpochField(serializers.IntegerField):
    """Milliseconds (or nanoseconds) since the epoch, in the years every door accepts."""

    def to_internal_value(self, data: Any) -> dt.datetime:  # type: ignore[override]
        number = super().to_internal_value(data)
        moment = epoch_time(number) if 0 <= number < 2**63 else None
        if moment is None:
            raise serializers.ValidationError(
                "Send milliseconds (or nanoseconds) since 1970-01-01 within the years 1970 to 2100."
            )
        return moment


@extend_schema_field({"oneOf": [{"type": "string", "pattern": "^[Pp][1-5]$"}, {"type": "integer", "minimum": 1,
                                                                               "maximum": 5}]})  # fmt: skip
class PriorityField(serializers.Field):
    """Opsgenie's priority: "P1" to "P5" as its API names them; some webhook bodies carry the number 1 to 5."""

    default_error_messages = {"invalid": 'Send "P1" to "P5" (or the number 1 to 5).'}

    def to_internal_value(self, data: Any) -> str:
        if isinstance(data, int) and not isinstance(data, bool) and 1 <= data <= 5:
            return f"P{data}"
        if isinstance(data, str) and data.upper() in PRIORITIES:
            return data.upper()
        self.fail("invalid")

    def to_representation(self, value: Any) -> str:
        return str(value)


class OpsgenieSourceSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=500, required=False, allow_blank=True)
    type = serializers.CharField(max_length=100, required=False, allow_blank=True)


class OpsgenieAlertSerializer(serializers.Serializer):
    alertId = serializers.RegexField(r"^[0-9A-Za-z_-]{1,100}$", max_length=100)
    message = serializers.CharField(max_length=20000, required=False, allow_blank=True)
    tinyId = serializers.RegexField(r"^[0-9A-Za-z_-]{1,50}$", max_length=50, required=False)
    alias = serializers.CharField(max_length=1000, required=False, allow_blank=True)
    entity = serializers.CharField(max_length=1000, required=False, allow_blank=True)
    tags = serializers.ListField(child=serializers.CharField(max_length=1000, allow_blank=True),
                                 max_length=MAX_TAGS, required=False, default=list)  # fmt: skip
    createdAt = EpochField(required=False)
    updatedAt = EpochField(required=False)
    username = serializers.CharField(max_length=500, required=False, allow_blank=True)
    # Fields named like Field.source: the serializer's metaclass takes declared fields off the class.
    source = serializers.CharField(max_length=1000, required=False, allow_blank=True)  # type: ignore[assignment]
    priority = PriorityField(required=False, allow_null=True)
    description = serializers.CharField(max_length=15000, required=False, allow_blank=True)
    details = serializers.DictField(
        child=serializers.CharField(max_length=8000, allow_blank=True), required=False, default=dict
    )

    def validate_details(self, value: dict) -> dict:
        if len(value) > MAX_DETAILS:
            raise serializers.ValidationError(f"Send at most {MAX_DETAILS} details.")
        bad = [name for name in value if not name or len(name) > 200 or not name.isprintable()]
        if bad:
            raise serializers.ValidationError(f"Names must be 1 to 200 printable characters: {bad[:3]!r}.")
        return value


class OpsgeniePayloadSerializer(StrictJsonMixin):
    """The Webhook integration's body: `{"action": …, "alert": {…}, "source": {…}, …}`; fields not listed here
    are accepted and ignored."""

    action = OneLineField(max_length=100)  # a custom action is named as its owner named it
    alert = OpsgenieAlertSerializer()
    source = OpsgenieSourceSerializer(required=False)  # type: ignore[assignment]
    integrationName = serializers.CharField(max_length=500, required=False, allow_blank=True)
    integrationId = serializers.CharField(max_length=100, required=False, allow_blank=True)
    integrationType = serializers.CharField(max_length=100, required=False, allow_blank=True)


def _detail(details: dict[str, str], names: tuple[str, ...]) -> str:
    lowered = {key.lower(): one_line(value) for key, value in details.items()}
    return next((lowered[name] for name in names if lowered.get(name)), "")


class OpsgenieReceiver(Receiver):
    source = "opsgenie"
    title = "Opsgenie"
    key_name = "alertId"
    schema: ClassVar[dict[str, Any]] = {
        "summary": "Receive an Opsgenie alert action",
        "description": (
            "Add an Opsgenie Webhook integration (Settings → Integrations → Webhook) with this URL, a custom "
            "header `Authorization: Bearer <token>` carrying an opsgenie hook's token, and at least the actions "
            "*alert is created* and *alert is closed*. Create files a triage item per Opsgenie alert (its "
            "alertId), Close sets its resolved time; Acknowledge, UnAcknowledge and Escalate file an alert not "
            "heard of before and leave a known one unchanged; every other action is a 202 saying it is ignored. "
            "The severity is the priority (P1 → sev1 … P4 and P5 → sev4); the environment a tag `env:…` or "
            "`environment:…`, else the detail `environment`, through the hook's environment map; the service "
            "the hook's, else a tag `service:…`, the detail `service` or the entity, as a Hindsight service slug "
            "or name. An action sent again changes nothing (`unchanged`)."
        ),
        "request": OpsgeniePayloadSerializer,
        "examples": [
            ex.request("Create", ex.OPSGENIE_CREATE),
            ex.request("Close", ex.OPSGENIE_CLOSE),
            ex.response("A triage item was created", ex.OPSGENIE_OUTCOME, status_codes=("200",)),
            ex.response("An action that is not read", ex.OPSGENIE_IGNORED, status_codes=("202",)),
        ],
    }

    def read(self, data: Any, request: Request) -> Delivery:
        payload = OpsgeniePayloadSerializer(data=data)
        payload.is_valid(raise_exception=True)
        action = payload.validated_data["action"]
        if action not in CREATE_ACTIONS + OPEN_ACTIONS + RESOLVE_ACTIONS:
            return Delivery(event=action, ignored=f"Event {action!r} ignored.")
        return Delivery(event=action, events=[_event(payload.validated_data["alert"], action)])


def _event(alert: dict, action: str) -> services.TriageEvent:
    tags, details = alert["tags"], alert["details"]
    priority = alert.get("priority") or ""
    resolved = action in RESOLVE_ACTIONS
    reference = f"#{alert['tinyId']}" if alert.get("tinyId") else alert["alertId"]
    entity = one_line(alert.get("entity", ""))
    facts = [(what, value) for what, value in (
        ("Priority", priority), ("Entity", entity),
        ("Source", one_line(alert.get("source", ""))), ("Alias", one_line(alert.get("alias", ""))),
        ("Tags", ", ".join(one_line(tag) for tag in tags if tag.strip())),
        ("Alert id", alert["alertId"]),
    ) if value]  # fmt: skip
    parts = [
        f"Opsgenie alert {reference} ({action})",
        alert.get("description", "").strip(),
        "\n".join(f"{what}: {value}" for what, value in facts),
        *(f"{key}: {value}" for key, value in sorted(details.items())),
    ]
    return services.TriageEvent(
        key=alert["alertId"],
        ref=alert["alertId"],
        resolved=resolved,
        title=alert.get("message", "").strip() or f"Opsgenie alert {reference}",
        summary=bounded_join(parts),
        started_at=alert.get("createdAt"),
        resolved_at=alert.get("updatedAt") if resolved else None,
        severity=PRIORITIES.get(priority, ""),
        environment=tag_value(tags, ENVIRONMENT_NAMES) or _detail(details, ENVIRONMENT_NAMES),
        service=tag_value(tags, SERVICE_NAMES) or _detail(details, SERVICE_NAMES) or entity,
    )
