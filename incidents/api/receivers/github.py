"""GitHub `deployment` and `deployment_status` events, signed with a hook's secret: releases and deployments."""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import parse_qs

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers, status
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from incidents import services
from incidents.api import examples as ex
from incidents.api.exceptions import validation_error
from incidents.api.parsers import check_body_size, json_loads_limited
from incidents.api.receivers.base import HookReceiverView, Receiver, header_value
from incidents.tokens import github_signature


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


class GitHubReceiver(Receiver):
    """Deployments rather than triage items: a deployment records the release, a final status its deployment."""

    source = "github"
    title = "GitHub"
    signed = True
    signature_header = "X-Hub-Signature-256"
    schema: ClassVar[dict[str, Any]] = {
        "summary": "Receive a GitHub deployment event",
        "description": (
            "Add this URL as a repository webhook (content type JSON or form) with the secret of a github hook "
            "(`python manage.py create_hook github …`, or the admin), for `deployment` and `deployment_status` "
            "events. A deployment records the release (by commit) of the hook's service, or of the service named "
            "like the repository; a final deployment_status also records its deployment to the mapped "
            "environment. `ping` answers pong, and a delivery id seen before changes nothing (200). An event left "
            "unrecorded (another event type, a repository without a service, an unmapped environment, a state not "
            "final yet) is a 202 saying why."
        ),
        "request": GitHubEventSerializer,
        "responses": {200: GitHubOutcomeSerializer, 202: GitHubOutcomeSerializer},
        "parameters": [
            OpenApiParameter("X-GitHub-Event", str, OpenApiParameter.HEADER, description="ping, deployment, ..."),
            OpenApiParameter(
                DELIVERY_HEADER,
                str,
                OpenApiParameter.HEADER,
                description="GitHub's id of the delivery: a delivery id seen before changes nothing.",
            ),
        ],
        "examples": [
            ex.request("A deployment_status event", ex.GITHUB_DEPLOYMENT_STATUS),
            ex.response("Deployment recorded", ex.GITHUB_OUTCOME, status_codes=("200",)),
            ex.response("Ignored", ex.GITHUB_IGNORED, status_codes=("202",)),
        ],
    }

    def signature(self, secret: str, body: bytes) -> str:
        return github_signature(secret, body)

    def handle(self, view: HookReceiverView, request: Request, sender: services.Sender) -> Response:
        hook = sender.hook
        if hook is None:
            raise RuntimeError("a GitHub delivery reached the view without its hook")
        event = header_value(request, "X-GitHub-Event", limit=50)
        services.hook_touch(hook=hook)
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
