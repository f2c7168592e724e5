"""The receiver framework: what every sender's receiver shares (docs/receivers.md).

A receiver is a small class per sender saying
- how the sender authenticates: `signed` (an HMAC of the body with a hook's secret, in `signature_header`, checked
  by `signature_valid`) or a bearer token (a hook's token, or a team's write token);
- how a delivery is named (`delivery_id`, `event_name`) and how its payload becomes triage events (`read`);
  a resolve event is a TriageEvent with `resolved`, and the event's `key` is what recognises a duplicate.
`receiver_view` turns it into the API view at /api/v1/hooks/<source>/; the writes are the services'
(services.hook_events_record), the same for every sender.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import authentication, exceptions, serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents import policies, selectors, services
from incidents.api.authentication import BearerTokenAuthentication
from incidents.api.parsers import LimitedJSONParser, json_loads_limited
from incidents.api.permissions import request_viewer
from incidents.api.throttling import charge_writes
from incidents.api.views import ApiViewMixin
from incidents.audit import set_actor
from incidents.limits import LONG_TEXT_MAX, one_line
from incidents.models import ApiToken, Hook


@dataclass
class Delivery:
    """What a receiver read from one delivery."""

    event: str  # the sender's event type, as the delivery log keeps it
    events: list[services.TriageEvent] = field(default_factory=list)
    ignored: str = ""  # why nothing is recorded (an event type not read): answered 202
    delivery_id: str = (
        ""  # the sender's id of the delivery, when it sends one: a copy is answered "already received"
    )
    warnings: list[dict[str, Any]] = field(default_factory=list)  # about the delivery as a whole (the answer's)


class Receiver:
    """One sender. Subclasses set the class attributes and implement `read`."""

    source: ClassVar[str]
    title: ClassVar[str]  # the sender's name in the API docs
    signed: ClassVar[bool] = False
    signature_header: ClassVar[str] = ""  # e.g. "X-PagerDuty-Signature"
    key_name: ClassVar[str] = "key"  # how the answer names an event (Alertmanager: "fingerprint")
    max_events: ClassVar[int] = 1  # events per delivery; each counts as a write
    events_field: ClassVar[str] = "events"  # the field a 400 names when a delivery carries too many
    schema: ClassVar[dict[str, Any]] = {}  # extend_schema arguments: summary, description, request, examples
    # Headers besides the credential that a delivery of the docs' request examples carries (e.g. the resource).
    example_headers: ClassVar[dict[str, str]] = {}

    def signature(self, secret: str, body: bytes) -> str:
        """The signature header's value as the sender computes it for `body` (signed senders)."""
        raise NotImplementedError

    def signature_valid(self, secret: str, body: bytes, given: str) -> bool:
        return signature_matches(self.signature(secret, body), given)

    def read(self, data: Any, request: Request) -> Delivery:
        """The delivery's events; a body that is not what the sender documents raises ValidationError (400)."""
        raise NotImplementedError

    def handle(self, view: HookReceiverView, request: Request, sender: services.Sender) -> Response:
        """Record the delivery: its events become triage items (services.hook_events_record)."""
        delivery = self.read(self.body(request), request)
        if len(delivery.events) > self.max_events:
            raise exceptions.ValidationError(
                {"events": [f"A delivery may carry at most {self.max_events} events."]}
            )
        charge_writes(request, view, len(delivery.events) - 1, field=self.events_field)  # each event is a write
        outcome = services.hook_events_record(
            sender=sender, events=delivery.events, event=delivery.event, delivery_id=delivery.delivery_id,
            key_name=self.key_name, ignored=delivery.ignored,
        )  # fmt: skip
        outcome.warnings.extend(delivery.warnings)
        accepted = not delivery.events and not outcome.duplicate
        return Response(outcome.answer(), status=status.HTTP_202_ACCEPTED if accepted else status.HTTP_200_OK)

    def body(self, request: Request) -> Any:
        """The JSON body as received (and as signed), within the API's size and depth limits."""
        return json_loads_limited(request._request.body, what="The body")


def signature_matches(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.encode())


def tag_value(tags: list[str], names: tuple[str, ...]) -> str:
    """The value of the first tag `name:value` (or `name=value`) for one of `names`, any case."""
    for name in names:
        for tag in tags:
            key, separator, value = tag.partition(":") if ":" in tag else tag.partition("=")
            if separator and key.strip().lower() == name and value.strip():
                return one_line(value)
    return ""


def bounded_join(parts: list[str], *, limit: int = LONG_TEXT_MAX, separator: str = "\n\n") -> str:
    """The parts joined, leaving out whole parts past `limit` (a part is never cut: redaction reads it whole)."""
    kept: list[str] = []
    size = 0
    for index, part in enumerate(parts):
        if not part:
            continue
        added = len(part) + (len(separator) if kept else 0)
        note = f"({len(parts) - index} more parts left out: a summary holds {limit} characters.)"
        if size + added + len(separator) + len(note) > limit:
            kept.append(note)
            break
        kept.append(part)
        size += added
    return separator.join(kept)


def header_value(request: Request | HttpRequest, name: str, *, limit: int = 500) -> str:
    """A header's value, printable ASCII within `limit` characters; anything else is a 400 naming the header."""
    value = request.headers.get(name, "").strip()
    if len(value) > limit or not value.isascii() or not value.isprintable():
        raise exceptions.ValidationError({name: [f"Send 1 to {limit} printable ASCII characters."]})
    return value


class SignedHookAuthentication(authentication.BaseAuthentication):
    """A delivery is a signed sender's when its signature matches the secret of one of that source's active
    hooks; that hook is the sender."""

    def authenticate(self, request) -> tuple[Any, Hook]:
        receiver: Receiver = request.parser_context["view"].receiver
        given = header_value(request, receiver.signature_header, limit=2000)
        if not given:
            raise exceptions.AuthenticationFailed(f"Missing {receiver.signature_header} header.")
        body = request._request.body  # the raw bytes the sender signed
        for hook in selectors.hooks_active(source=receiver.source):
            if receiver.signature_valid(hook.secret, body, given):
                set_actor(label=f"hook:{hook.name}")
                return AnonymousUser(), hook  # a signed delivery is no person's, whatever cookie it carries
        raise exceptions.AuthenticationFailed(
            f"{receiver.signature_header} does not match any active {receiver.title} hook."
        )

    def authenticate_header(self, request) -> str:
        receiver: Receiver = request.parser_context["view"].receiver
        return f'{receiver.signature_header} realm="{receiver.source}"'


class SignedBySender(BasePermission):
    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, Hook) and request.auth.source == view.receiver.source


class DeliversToReceiver(BasePermission):
    """A bearer-token sender: its hook's token, or a write token of the team (policies.may_deliver_to_receiver)."""

    def has_permission(self, request, view) -> bool:
        decision = policies.may_deliver_to_receiver(request_viewer(request), view.receiver.source)
        if not decision:
            self.message = decision.rule
        return bool(decision)


class HookOutcomeSerializer(serializers.Serializer):
    created = serializers.ListField(child=serializers.CharField(), help_text="References of new triage items.")
    resolved = serializers.ListField(child=serializers.CharField(), help_text="Items this delivery resolved.")
    unchanged = serializers.ListField(
        child=serializers.CharField(), help_text="Items already known (a delivery sent again)."
    )
    # A field named like Serializer.errors: the serializer's metaclass takes declared fields off the class.
    errors = serializers.ListField(child=serializers.DictField(), help_text="Events that could not be recorded.")  # type: ignore[assignment]
    warnings = serializers.ListField(
        child=serializers.DictField(),
        help_text=(
            "Events recorded without a value, and why (a service of another team is left out), and what the "
            "sender says it left out of the delivery (Grafana's truncatedAlerts)."
        ),
    )
    redacted = serializers.DictField(
        child=serializers.DictField(child=serializers.DictField(child=serializers.IntegerField())),
        help_text="Per new item: what redaction on ingest replaced, per field (placeholder kind → count).",
    )
    detail = serializers.CharField(required=False, help_text="Why nothing was recorded (202), or a duplicate.")


class HookReceiverView(ApiViewMixin, APIView):
    """The view of one receiver (`receiver`); `receiver_view` makes one per sender."""

    receiver: ClassVar[Receiver]
    # Read raw (the body is what was signed); the parser is listed for the API docs' request body.
    parser_classes = [LimitedJSONParser]

    @property
    def hook_source(self) -> str:
        """The source whose hook tokens this door accepts (policies.may_present_token)."""
        return self.receiver.source

    def sender(self, request: Request) -> services.Sender:
        if isinstance(request.auth, Hook):
            return services.Sender(source=self.receiver.source, team=request.auth.team, hook=request.auth)
        token = request.auth
        if not isinstance(token, ApiToken):
            raise RuntimeError("a delivery reached the view without its sender")
        hook = selectors.hook_of_token(token=token)
        return services.Sender(source=self.receiver.source, team=token.team, hook=hook, token=token)

    def receive(self, request: Request) -> Response:
        return self.receiver.handle(self, request, self.sender(request))


def _signed_description(receiver: Receiver) -> str:
    if receiver.signed:
        return (
            f"\n\nWho may call it: {receiver.title}, signing the body with a {receiver.source} hook's secret in "
            f"{receiver.signature_header}; a missing or wrong signature is a 401 (no API token is used)."
        )
    return (
        f"\n\nWho may call it: the token of a {receiver.source} hook (`python manage.py create_hook "
        f"{receiver.source} …`), or a write token of the team, as `Authorization: Bearer <token>` (a read token: "
        "403; none: 401). Each event counts as a write (429 with Retry-After past the rate)."
    )


def receiver_view(receiver: Receiver) -> type[HookReceiverView]:
    """The API view of `receiver`, with its own API docs."""
    schema = dict(receiver.schema)
    description = (
        schema.pop("description", "")
        + _signed_description(receiver)
        + (
            " A body that is not what the sender documents is a 400 naming the field; an oversized or too deeply "
            "nested body 413 or 400. An event type that is not read is a 202 saying so, and records nothing."
        )
    )
    parameters = schema.pop("parameters", [])
    responses = schema.pop("responses", {200: HookOutcomeSerializer, 202: HookOutcomeSerializer})
    if receiver.signed:
        parameters = [
            OpenApiParameter(
                receiver.signature_header,
                str,
                OpenApiParameter.HEADER,
                required=True,
                description="The sender's HMAC-SHA256 signature of the body.",
            ),
            *parameters,
        ]

    def post(self: HookReceiverView, request: Request) -> Response:
        return self.receive(request)

    post = extend_schema(description=description, parameters=parameters, responses=responses, **schema)(post)
    attributes: dict[str, Any] = {"receiver": receiver, "post": post, "__doc__": schema.get("summary", "")}
    if receiver.signed:
        attributes |= {
            "authentication_classes": [SignedHookAuthentication],
            "permission_classes": [SignedBySender],
        }
    else:
        attributes |= {
            "authentication_classes": [BearerTokenAuthentication],
            "permission_classes": [DeliversToReceiver],
        }
    name = f"{type(receiver).__name__.removesuffix('Receiver')}WebhookView"
    return type(name, (HookReceiverView,), attributes)
