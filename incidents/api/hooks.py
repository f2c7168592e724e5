"""Webhook receivers: Prometheus Alertmanager (token) and GitHub deployments (signed with a per-hook secret)."""

from __future__ import annotations

import hashlib
import json
from urllib.parse import parse_qs

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import FormParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents import services
from incidents.api import examples as ex
from incidents.api.authentication import GitHubSignatureAuthentication
from incidents.api.exceptions import validation_error
from incidents.api.fields import OneLineField
from incidents.api.parsers import LimitedJSONParser, check_body_size, json_loads_limited
from incidents.api.permissions import SignedByGitHub, request_hook, tool_token
from incidents.api.strict import StrictJsonMixin
from incidents.api.throttling import charge_writes
from incidents.api.views import ApiViewMixin
from incidents.models import Environment, Service

# --- Alertmanager ----------------------------------------------------------------------------------------


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


class AlertmanagerPayloadSerializer(StrictJsonMixin):
    """Alertmanager's webhook_config body (version 4); fields not listed here are accepted and ignored."""

    version = serializers.ChoiceField(choices=["4"])
    status = serializers.ChoiceField(choices=["firing", "resolved"])
    receiver = serializers.CharField(required=False, allow_blank=True, max_length=200)
    externalURL = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    # max_length with many=True goes to the list serializer (DRF 3.14); the stubs' __init__ leaves it out.
    alerts = AlertSerializer(many=True, max_length=1000)  # type: ignore[call-arg]

    def to_internal_value(self, data):
        limit = settings.ALERTMANAGER_MAX_ALERTS
        if isinstance(data, dict) and isinstance(data.get("alerts"), list) and len(data["alerts"]) > limit:
            raise ValidationError(
                {"alerts": [f"A notification may carry at most {limit} alerts (ALERTMANAGER_MAX_ALERTS); "
                            f"this one has {len(data['alerts'])}. Set max_alerts in Alertmanager's "
                            "webhook_config."]}
            )  # fmt: skip
        return super().to_internal_value(data)


class AlertOutcomeSerializer(serializers.Serializer):
    created = serializers.ListField(child=serializers.CharField(), help_text="References of new triage items.")
    resolved = serializers.ListField(child=serializers.CharField())
    unchanged = serializers.ListField(child=serializers.CharField(), help_text="Notifications sent again.")
    # A field named like Serializer.errors: the serializer's metaclass takes declared fields off the class.
    errors = serializers.ListField(child=serializers.DictField(), help_text="Alerts that could not be recorded.")  # type: ignore[assignment]
    warnings = serializers.ListField(
        child=serializers.DictField(),
        help_text="Alerts recorded without a label's value, and why (a service of another team is left out).",
    )
    redacted = serializers.DictField(
        child=serializers.DictField(child=serializers.DictField(child=serializers.IntegerField())),
        help_text="Per new item: what redaction on ingest replaced, per field (placeholder kind → count).",
    )


def _first_label(labels: dict[str, str], names: list[str]) -> str:
    return next((labels[name] for name in names if labels.get(name)), "")


def _alert_input(alert: dict) -> services.AlertInput:
    labels, annotations = alert["labels"], alert["annotations"]
    fingerprint = (
        alert.get("fingerprint") or hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16]
    )
    ends_at = alert.get("endsAt")
    if ends_at is not None and ends_at.year <= 1:
        ends_at = None  # Alertmanager's zero time: "not given"
    name = labels.get("alertname") or f"Alert {fingerprint}"
    headline = annotations.get("summary") or annotations.get("description") or ""
    title = f"{name}: {headline}" if headline else name
    details = [annotations.get("description", "")] if annotations.get("description") != headline else []
    details.append("Labels: " + ", ".join(f"{key}={value}" for key, value in sorted(labels.items())))
    if alert.get("generatorURL"):
        details.append(f"Source: {alert['generatorURL']}")
    severity = _first_label(labels, settings.ALERTMANAGER_SEVERITY_LABELS).lower()
    return services.AlertInput(
        fingerprint=fingerprint,
        starts_at=alert["startsAt"],
        ends_at=ends_at,
        resolved=alert["status"] == "resolved",
        title=title,  # whole: the service redacts it before cutting it to length
        summary="\n\n".join(part for part in details if part),
        environment=Environment.objects.filter(
            slug=_first_label(labels, settings.ALERTMANAGER_ENVIRONMENT_LABELS)
        ).first(),
        service=Service.objects.filter(slug=_first_label(labels, settings.ALERTMANAGER_SERVICE_LABELS)).first(),
        severity=services.ALERT_SEVERITIES.get(severity, ""),
    )


class AlertmanagerWebhookView(ApiViewMixin, APIView):
    """One triage item per alert fingerprint and firing period; resolved notifications set the resolved time."""

    @extend_schema(
        summary="Receive an Alertmanager notification",
        description=(
            "Point Alertmanager's webhook_config here (with `http_config.authorization` carrying the token). Each "
            "firing alert becomes a triage item of the token's team, one per fingerprint and firing period, with "
            "its service and environment taken from the labels named in ALERTMANAGER_SERVICE_LABELS and "
            "ALERTMANAGER_ENVIRONMENT_LABELS; a resolved notification sets the item's resolved time, and a "
            "notification sent again changes nothing (`unchanged`). The answer lists what happened to each alert."
            "\n\nWho may call it: an API token of the write scope (a read token or a session: 403; none: 401). "
            "Each alert counts as a write (429 with Retry-After past the rate). More than ALERTMANAGER_MAX_ALERTS "
            "alerts, or a body that is not a version 4 notification, is a 400 naming the field; an oversized body "
            "413."
        ),
        request=AlertmanagerPayloadSerializer,
        responses={200: AlertOutcomeSerializer},
        examples=[
            ex.request("A firing alert", ex.ALERTMANAGER),
            ex.request("The same alert resolved", ex.ALERTMANAGER_RESOLVED),
            ex.response("A triage item was created", ex.ALERT_OUTCOME),
            ex.response("Its triage item was resolved", ex.ALERT_OUTCOME_RESOLVED),
        ],
    )
    def post(self, request: Request) -> Response:
        payload = AlertmanagerPayloadSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        alerts = payload.validated_data["alerts"]
        charge_writes(request, self, len(alerts) - 1, field="alerts")  # each alert is a write
        outcome = services.alertmanager_notification_record(
            token=tool_token(request), alerts=[_alert_input(alert) for alert in alerts]
        )
        return Response(outcome)


# --- GitHub ----------------------------------------------------------------------------------------------


class GitHubRepositorySerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    full_name = serializers.CharField(max_length=200, required=False)
    html_url = serializers.URLField(max_length=500, required=False)


class GitHubDeploymentSerializer(serializers.Serializer):
    id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    sha = serializers.RegexField(r"^[0-9a-fA-F]{7,64}$", max_length=64)
    ref = serializers.CharField(max_length=255, allow_blank=True)
    environment = serializers.CharField(max_length=255)
    created_at = serializers.DateTimeField()


class GitHubDeploymentStatusSerializer(serializers.Serializer):
    state = serializers.CharField(max_length=50)
    environment = serializers.CharField(max_length=255, required=False)
    created_at = serializers.DateTimeField()


class GitHubEventSerializer(serializers.Serializer):
    """The parts of GitHub's `deployment` and `deployment_status` events that Hindsight reads."""

    deployment = GitHubDeploymentSerializer()
    deployment_status = GitHubDeploymentStatusSerializer(required=False)
    repository = GitHubRepositorySerializer()


class GitHubOutcomeSerializer(serializers.Serializer):
    detail = serializers.CharField()
    release = serializers.IntegerField(allow_null=True, required=False)
    deployment = serializers.IntegerField(allow_null=True, required=False)


def _github_body(request: Request) -> dict:
    """The event as signed: a JSON body, or form-encoded with the JSON in `payload`; within the JSON limits."""
    body = request._request.body
    if request.content_type.startswith("application/x-www-form-urlencoded"):
        check_body_size(body)
        try:
            fields = parse_qs(body.decode("utf-8", "replace"), max_num_fields=100)
        except ValueError:  # more fields than GitHub sends
            raise ParseError("The form-encoded body has too many fields; GitHub sends one, `payload`.") from None
        body = (fields.get("payload") or [""])[0].encode()
    data = json_loads_limited(body, what="The body")
    if not isinstance(data, dict):
        raise ParseError("The body is not a JSON GitHub event.")
    return data


DELIVERY_HEADER = "X-GitHub-Delivery"


def _delivery_id(request: Request) -> str:
    value = request.headers.get(DELIVERY_HEADER, "").strip()
    if len(value) > 100 or not value.isascii() or not value.isprintable():
        raise ValidationError({DELIVERY_HEADER: ["Send GitHub's delivery GUID: 1 to 100 printable characters."]})
    return value


def _github_event(data: dict, event: str) -> services.GitHubDeploymentEvent:
    deployment, deployment_status = data["deployment"], data.get("deployment_status")
    if event == "deployment_status" and deployment_status is None:
        raise ValidationError({"deployment_status": ["This field is required."]})
    repository = data["repository"]
    commit_url = f"{repository.get('html_url', '')}/commit/{deployment['sha']}"
    return services.GitHubDeploymentEvent(
        repository=repository["name"],
        deployment_id=deployment["id"],
        sha=deployment["sha"].lower(),
        ref=deployment["ref"],
        environment_name=(deployment_status or {}).get("environment") or deployment["environment"],
        state=deployment_status["state"] if deployment_status else None,
        at=deployment_status["created_at"] if deployment_status else deployment["created_at"],
        url=commit_url if commit_url.startswith("http") and len(commit_url) <= 200 else "",
    )


class GitHubWebhookView(ApiViewMixin, APIView):
    """GitHub `deployment` and `deployment_status` events record the release and its deployment."""

    authentication_classes = [GitHubSignatureAuthentication]
    permission_classes = [SignedByGitHub]
    parser_classes = [LimitedJSONParser, FormParser]  # documented; the body is read raw, as signed

    @extend_schema(
        request=GitHubEventSerializer,
        parameters=[
            OpenApiParameter("X-GitHub-Event", str, OpenApiParameter.HEADER, description="ping, deployment, ..."),
            OpenApiParameter(
                "X-Hub-Signature-256", str, OpenApiParameter.HEADER, description="sha256=HMAC of the body."
            ),
            OpenApiParameter(
                DELIVERY_HEADER,
                str,
                OpenApiParameter.HEADER,
                description="GitHub's id of the delivery: a delivery id seen before changes nothing.",
            ),
        ],
        responses={200: GitHubOutcomeSerializer, 202: GitHubOutcomeSerializer},
        summary="Receive a GitHub deployment event",
        description=(
            "Add this URL as a repository webhook (content type JSON or form) with the secret of a GitHub hook "
            "created in the admin, for `deployment` and `deployment_status` events. A deployment records the "
            "release (by commit) of the hook's service, or of the service named like the repository; a final "
            "deployment_status also records its deployment to the mapped environment. `ping` answers pong, and a "
            "delivery id seen before changes nothing (200). An event left unrecorded (another event type, a "
            "repository without a service, an unmapped environment, a state not final yet) is a 202 saying why."
            "\n\nWho may call it: GitHub, signing the body with the hook's secret in X-Hub-Signature-256; a "
            "missing or wrong signature is a 401 (no API token is used). A body that is not the event it says is a "
            "400 naming the field; an oversized body 413."
        ),
        examples=[
            ex.request("A deployment_status event", ex.GITHUB_DEPLOYMENT_STATUS),
            ex.response("Deployment recorded", ex.GITHUB_OUTCOME, status_codes=("200",)),
            ex.response("Ignored", ex.GITHUB_IGNORED, status_codes=("202",)),
        ],
    )
    def post(self, request: Request) -> Response:
        hook = request_hook(request)
        event = request.headers.get("X-GitHub-Event", "")
        services.github_hook_touch(hook=hook)
        delivery_id = _delivery_id(request)
        deployment = None
        if event in ("deployment", "deployment_status"):
            payload = GitHubEventSerializer(data=_github_body(request))
            payload.is_valid(raise_exception=True)
            deployment = _github_event(payload.validated_data, event)
        try:
            outcome = services.github_delivery_record(
                hook=hook, delivery_id=delivery_id, event=event, deployment=deployment
            )
        except DjangoValidationError as error:
            raise validation_error(error) from None
        body = {
            "detail": outcome.ignored or "Deployment recorded.",
            "release": outcome.release.pk if outcome.release else None,
            "deployment": outcome.deployment.pk if outcome.deployment else None,
        }
        accepted = outcome.ignored and not (outcome.duplicate or outcome.stale or event == "ping")
        return Response(body, status=status.HTTP_202_ACCEPTED if accepted else status.HTTP_200_OK)
