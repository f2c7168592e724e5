"""Sentry's integration-platform webhooks (an internal integration), signed in Sentry-Hook-Signature: issues,
issue alerts and metric alerts into triage.

The resource is a header (`Sentry-Hook-Resource`), the body `{"action": …, "data": {…}, "installation": {…},
"actor": {…}}`; `data` holds the issue, the event of an issue alert, or the metric alert, as the resource says.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any, ClassVar

from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

from incidents import services
from incidents.api import examples as ex
from incidents.api.fields import InRangeDateTimeField
from incidents.api.receivers.base import Delivery, Receiver, bounded_join, header_value
from incidents.api.strict import StrictJsonMixin
from incidents.limits import one_line
from incidents.models import Incident

RESOURCE_HEADER = "Sentry-Hook-Resource"
DELIVERY_HEADER = "Request-ID"
# Sentry's event and issue levels; an unknown level leaves the item without a severity.
LEVELS: dict[str, str] = {"fatal": Incident.Severity.SEV1, "error": Incident.Severity.SEV2,
          "warning": Incident.Severity.SEV3, "info": Incident.Severity.SEV4, "debug": Incident.Severity.SEV4}  # fmt: skip
METRIC_SEVERITIES: dict[str, str] = {"critical": Incident.Severity.SEV2, "warning": Incident.Severity.SEV3}
# Per resource, the actions that open an item (filed when new) and the ones that resolve it; every other action of
# a read resource, and every other resource (installation, error, comment, ...), is answered 202 "ignored".
# An issue that regressed comes as `unresolved` (substatus `regressed`): a known item is left as it is.
OPEN_ACTIONS = {"issue": ("created", "unresolved"), "event_alert": ("triggered",),
                "metric_alert": ("critical", "warning")}  # fmt: skip
RESOLVE_ACTIONS = {"issue": ("resolved",), "metric_alert": ("resolved",)}
MAX_TAGS = 200
ID_PATTERN = r"^[0-9A-Za-z_-]{1,100}$"
ISSUE_IN_URL = re.compile(r"/issues/([0-9]{1,30})/")
PROJECT_IN_URL = re.compile(r"/projects/[^/]{1,100}/([^/]{1,100})/events/")


class SentryProjectSerializer(serializers.Serializer):
    id = serializers.CharField(max_length=100, required=False, allow_blank=True)
    slug = serializers.CharField(max_length=100, required=False, allow_blank=True)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)


class SentryIssueSerializer(StrictJsonMixin):
    """`data.issue` of the issue resource; fields not listed are accepted and ignored."""

    id = serializers.RegexField(ID_PATTERN, max_length=100)
    shortId = serializers.CharField(max_length=200, required=False, allow_blank=True)
    title = serializers.CharField(max_length=20000, required=False, allow_blank=True)
    culprit = serializers.CharField(max_length=2000, required=False, allow_blank=True, allow_null=True)
    level = serializers.CharField(max_length=20, required=False, allow_blank=True)
    status = serializers.CharField(max_length=50, required=False, allow_blank=True)
    substatus = serializers.CharField(max_length=50, required=False, allow_blank=True, allow_null=True)
    platform = serializers.CharField(max_length=100, required=False, allow_blank=True, allow_null=True)
    firstSeen = InRangeDateTimeField(required=False, allow_null=True)
    lastSeen = InRangeDateTimeField(required=False, allow_null=True)
    count = serializers.CharField(max_length=30, required=False, allow_blank=True)
    web_url = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    permalink = serializers.CharField(max_length=2000, required=False, allow_blank=True, allow_null=True)
    project = SentryProjectSerializer(required=False, allow_null=True)


class SentryTagsField(serializers.ListField):
    """An event's tags as Sentry sends them, `[["key", "value"], …]` (or `[{"key": …, "value": …}]`): the first
    value of each key."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(child=serializers.JSONField(), max_length=MAX_TAGS, **kwargs)

    def to_internal_value(self, data: Any) -> dict[str, str]:  # type: ignore[override]
        if isinstance(data, list) and len(data) > MAX_TAGS:
            raise ValidationError(f"Send at most {MAX_TAGS} tags.")
        tags: dict[str, str] = {}
        for tag in super().to_internal_value(data):
            pair = (tag.get("key"), tag.get("value")) if isinstance(tag, dict) else tag
            if not (isinstance(pair, list | tuple) and len(pair) == 2 and all(isinstance(p, str) for p in pair)):
                raise ValidationError('Send each tag as ["key", "value"].')
            key, value = pair
            if len(key) > 200 or len(value) > 1000:
                raise ValidationError("A tag's key holds at most 200 characters, its value 1,000.")
            tags.setdefault(key, value)
        return tags


class SentryEventSerializer(StrictJsonMixin):
    """`data.event` of an issue alert (event_alert); fields not listed are accepted and ignored."""

    issue_id = serializers.RegexField(r"^[0-9]{1,30}$", max_length=30, required=False)
    issue_url = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    event_id = serializers.CharField(max_length=100, required=False, allow_blank=True)
    title = serializers.CharField(max_length=20000, required=False, allow_blank=True)
    culprit = serializers.CharField(max_length=2000, required=False, allow_blank=True, allow_null=True)
    level = serializers.CharField(max_length=20, required=False, allow_blank=True)
    environment = serializers.CharField(max_length=200, required=False, allow_blank=True, allow_null=True)
    datetime = InRangeDateTimeField(required=False, allow_null=True)
    url = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    web_url = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    tags = SentryTagsField(required=False, default=list)

    def validate(self, attrs: dict) -> dict:
        if not attrs.get("issue_id"):
            found = ISSUE_IN_URL.search(attrs.get("issue_url", ""))
            if found is None:
                raise ValidationError({"issue_id": ["This field is required (or an issue_url naming the issue)."]})
            attrs["issue_id"] = found.group(1)
        return attrs


class SentryAlertRuleSerializer(serializers.Serializer):
    id = serializers.CharField(max_length=100, required=False, allow_blank=True)
    name = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    environment = serializers.CharField(max_length=200, required=False, allow_blank=True, allow_null=True)
    projects = serializers.ListField(child=serializers.CharField(max_length=100), max_length=100, required=False)


class SentryMetricAlertSerializer(serializers.Serializer):
    id = serializers.RegexField(ID_PATTERN, max_length=100)
    identifier = serializers.CharField(max_length=100, required=False, allow_blank=True)
    title = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    date_started = InRangeDateTimeField(required=False, allow_null=True)
    date_detected = InRangeDateTimeField(required=False, allow_null=True)
    date_closed = InRangeDateTimeField(required=False, allow_null=True)
    projects = serializers.ListField(child=serializers.CharField(max_length=100), max_length=100, required=False)
    alert_rule = SentryAlertRuleSerializer(required=False, allow_null=True)


class SentryMetricAlertDataSerializer(StrictJsonMixin):
    """`data` of a metric alert; fields not listed are accepted and ignored."""

    metric_alert = SentryMetricAlertSerializer()
    description_title = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    description_text = serializers.CharField(max_length=20000, required=False, allow_blank=True)
    web_url = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class SentryIssueDataSerializer(StrictJsonMixin):
    issue = SentryIssueSerializer()


class SentryEventAlertDataSerializer(StrictJsonMixin):
    event = SentryEventSerializer()
    triggered_rule = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class SentryPayloadSerializer(StrictJsonMixin):
    """An integration-platform webhook body; `data` is read as the resource header says."""

    action = serializers.RegexField(r"^[a-z_]{1,50}$", max_length=50)
    # A field named like Serializer.data: the serializer's metaclass takes declared fields off the class.
    data = serializers.DictField()  # type: ignore[assignment]
    installation = serializers.DictField(required=False)
    actor = serializers.DictField(required=False)


DATA_SERIALIZERS: dict[str, type[serializers.Serializer]] = {
    "issue": SentryIssueDataSerializer,
    "event_alert": SentryEventAlertDataSerializer,
    "metric_alert": SentryMetricAlertDataSerializer,
}


def sentry_signature(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _delivery_id(request: Request) -> str:
    value = request.headers.get(DELIVERY_HEADER, "").strip()
    if len(value) > 100 or not value.isascii() or not value.isprintable():
        raise ValidationError({DELIVERY_HEADER: ["Send Sentry's request id: 1 to 100 printable characters."]})
    return value


def _resource(request: Request) -> str:
    resource = header_value(request, RESOURCE_HEADER, limit=50)
    if not re.fullmatch(r"[a-z_]{1,50}", resource):
        raise ValidationError({RESOURCE_HEADER: ["Send the resource Sentry names, e.g. issue or metric_alert."]})
    return resource


class SentryReceiver(Receiver):
    source = "sentry"
    title = "Sentry"
    signed = True
    signature_header = "Sentry-Hook-Signature"
    example_headers: ClassVar[dict[str, str]] = {RESOURCE_HEADER: "issue"}
    schema: ClassVar[dict[str, Any]] = {
        "summary": "Receive a Sentry integration webhook",
        "description": (
            "Set this URL as the webhook URL of a Sentry internal integration (Settings → Developer Settings → "
            "Custom Integrations), with the integration's client secret stored in a sentry hook (`python manage.py "
            "create_hook sentry … --secret S`), subscribed to issue webhooks and made available as an alert rule "
            "action. Resource issue: created and unresolved file a triage item per Sentry issue, resolved sets "
            "its resolved time; event_alert (an issue alert rule) files the item of the event's issue; "
            "metric_alert: critical and warning file an item per metric alert, resolved resolves it. Other "
            "actions and resources are a 202 saying they are ignored. The severity is the level (fatal → sev1, "
            "error → sev2, warning → sev3, info and debug → sev4; metric alerts critical → sev2, warning → sev3); "
            "the service the hook's, else the Sentry project's slug as a Hindsight service slug or name; the "
            "environment the event's (metric alerts: the rule's), through the hook's map. A Request-ID seen "
            "before changes nothing."
        ),
        "request": SentryPayloadSerializer,
        "parameters": [
            OpenApiParameter(
                RESOURCE_HEADER,
                str,
                OpenApiParameter.HEADER,
                required=True,
                description="What the body is about: issue, event_alert, metric_alert (read); installation, "
                "error, comment, … (ignored).",
            ),
            OpenApiParameter(
                DELIVERY_HEADER,
                str,
                OpenApiParameter.HEADER,
                required=False,
                description="Sentry's id of the request: a request id seen before changes nothing.",
            ),
        ],
        "examples": [
            ex.request("issue created", ex.SENTRY_ISSUE_CREATED),
            ex.request("issue resolved", ex.SENTRY_ISSUE_RESOLVED),
            ex.response("A triage item was created", ex.SENTRY_OUTCOME, status_codes=("200",)),
            ex.response("A resource or action that is not read", ex.SENTRY_IGNORED, status_codes=("202",)),
        ],
    }

    def signature(self, secret: str, body: bytes) -> str:
        return sentry_signature(secret, body)

    def read(self, data: Any, request: Request) -> Delivery:
        resource, delivery_id = _resource(request), _delivery_id(request)
        payload = SentryPayloadSerializer(data=data)
        payload.is_valid(raise_exception=True)
        action = payload.validated_data["action"]
        event = f"{resource}.{action}"[:50]
        read = OPEN_ACTIONS.get(resource, ()) + RESOLVE_ACTIONS.get(resource, ())
        if action not in read:
            return Delivery(event=event, ignored=f"Event {event!r} ignored.", delivery_id=delivery_id)
        body = DATA_SERIALIZERS[resource](data=payload.validated_data["data"])
        if not body.is_valid():
            raise ValidationError({"data": body.errors})
        resolved = action in RESOLVE_ACTIONS.get(resource, ())
        reader = {"issue": _issue_event, "event_alert": _alert_event, "metric_alert": _metric_event}[resource]
        return Delivery(
            event=event, events=[reader(body.validated_data, action, resolved)], delivery_id=delivery_id
        )


def _facts(*pairs: tuple[str, Any]) -> str:
    return "\n".join(f"{what}: {one_line(str(value))}" for what, value in pairs if value)


def _issue_event(data: dict, action: str, resolved: bool) -> services.TriageEvent:
    issue = data["issue"]
    project = issue.get("project") or {}
    reference = issue.get("shortId") or issue["id"]
    link = issue.get("web_url") or issue.get("permalink") or ""
    parts = [
        f"Sentry issue {reference} ({action})",
        _facts(
            ("Culprit", issue.get("culprit")),
            ("Level", issue.get("level")),
            ("Status", " / ".join(filter(None, (issue.get("status"), issue.get("substatus"))))),
            ("Project", project.get("slug")),
            ("Platform", issue.get("platform")),
            ("Events", issue.get("count")),
            ("Link", link),
        ),
    ]
    return services.TriageEvent(
        key=f"issue/{issue['id']}",
        ref=reference,
        resolved=resolved,
        title=issue.get("title", "").strip() or f"Sentry issue {reference}",
        summary=bounded_join(parts),
        started_at=issue.get("firstSeen"),
        severity=LEVELS.get(issue.get("level", "").lower(), ""),
        service=project.get("slug", ""),
    )


def _alert_event(data: dict, action: str, resolved: bool) -> services.TriageEvent:
    event = data["event"]
    tags = event["tags"]
    project = PROJECT_IN_URL.search(event.get("url", ""))
    level = event.get("level") or tags.get("level", "")
    parts = [
        f"Sentry issue alert ({data.get('triggered_rule') or 'triggered'})",
        _facts(("Culprit", event.get("culprit")), ("Level", level), ("Event", event.get("event_id")),
               ("Issue", event["issue_id"]), ("Release", tags.get("release")), ("Link", event.get("web_url"))),
    ]  # fmt: skip
    return services.TriageEvent(
        key=f"issue/{event['issue_id']}",
        ref=event["issue_id"],
        resolved=resolved,
        title=event.get("title", "").strip() or f"Sentry issue {event['issue_id']}",
        summary=bounded_join(parts),
        started_at=event.get("datetime"),
        severity=LEVELS.get(level.lower(), ""),
        environment=event.get("environment") or tags.get("environment", ""),
        service=project.group(1) if project else "",
    )


def _metric_event(data: dict, action: str, resolved: bool) -> services.TriageEvent:
    alert = data["metric_alert"]
    rule = alert.get("alert_rule") or {}
    projects = rule.get("projects") or alert.get("projects") or []
    title = rule.get("name") or data.get("description_title") or alert.get("title") or ""
    parts = [
        f"Sentry metric alert {alert.get('identifier') or alert['id']} ({action})",
        data.get("description_text", "").strip(),
        _facts(("Projects", ", ".join(projects)), ("Incident", alert.get("title")), ("Link", data.get("web_url"))),
    ]
    return services.TriageEvent(
        key=f"metric_alert/{alert['id']}",
        ref=alert["id"],
        resolved=resolved,
        title=title.strip() or f"Sentry metric alert {alert['id']}",
        summary=bounded_join(parts),
        started_at=alert.get("date_started") or alert.get("date_detected"),
        resolved_at=alert.get("date_closed") if resolved else None,
        severity=METRIC_SEVERITIES.get(action, ""),
        environment=rule.get("environment") or "",
        service=projects[0] if projects else "",
    )
