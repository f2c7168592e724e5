"""Webhook senders: creating a hook, and turning what a sender reports into triage items (docs/receivers.md).

Every receiver (incidents/api/receivers/) reads its sender's payload into `TriageEvent`s; from there on every
source is handled alike:

- one triage item per (team, sender's key): a delivery sent again finds the item and changes nothing;
- a resolve event sets the item's resolved time once (an item first heard of as resolved is filed resolved);
- the environment is the sender's name mapped through the hook (`environment_map`, `*` for the default), the
  service the hook's own or the one the event names, but only a service the team may write for (else the item is
  filed without it, with a warning);
- each accepted delivery is kept as a HookDelivery; one with a delivery id is handled once (tools.hook_delivery_claim).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from incidents.audit import audit_record
from incidents.limits import one_line
from incidents.models import ApiToken, Environment, Hook, HookDelivery, Incident, Service, Team
from incidents.policies import Viewer, not_writable_detail, service_writable_by, viewer_for_team
from incidents.services.incidents import Redactions, VersionConflict, _merge_redactions, _redact, incident_update
from incidents.services.tools import (
    _cut,
    api_token_create,
    hook_delivery_claim,
    hook_delivery_finish,
    incident_record_for_tool,
)

# The key in the environment map that names the environment of events that name none, or one not mapped.
DEFAULT_ENVIRONMENT_KEY = "*"
MAX_KEY_LENGTH = 150  # the rest of Incident.external_id (200) holds "team<id>/"


@dataclass(frozen=True)
class TriageEvent:
    """One thing a sender reports: an alert or incident that started, or that is over."""

    key: str  # the sender's stable id of it: one triage item per key and team
    ref: str  # how the answer names it (Alertmanager: the fingerprint)
    resolved: bool
    title: str
    summary: str = ""
    started_at: dt.datetime | None = None  # None: when it was received
    resolved_at: dt.datetime | None = None  # None with `resolved`: when it was received
    severity: str = ""  # a Hindsight severity, or "" when the sender gave none that maps
    environment: str = ""  # the sender's name for the environment
    service: str = ""  # the sender's name (or slug) for the service
    service_object: Service | None = None  # a service already looked up by the receiver (Alertmanager's labels)


@dataclass
class Sender:
    """Who delivers: a hook (its team, service and environment map), or a team's write token without a hook."""

    source: str
    team: Team
    hook: Hook | None = None
    token: ApiToken | None = None

    @property
    def actor(self) -> Viewer:
        return viewer_for_team(self.team)

    @property
    def environment_map(self) -> dict[str, str]:
        return self.hook.environment_map if self.hook is not None else {}


@dataclass
class HookOutcome:
    """What a delivery did, event by event; `answer()` is the receivers' JSON answer."""

    key_name: str = "key"
    created: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    redacted: dict[str, Redactions] = field(default_factory=dict)
    detail: str = ""
    duplicate: bool = False

    def answer(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "created": self.created, "resolved": self.resolved, "unchanged": self.unchanged,
            "errors": self.errors, "warnings": self.warnings, "redacted": self.redacted,
        }  # fmt: skip
        if self.detail:
            body["detail"] = self.detail
        return body

    @property
    def delivery_outcome(self) -> str:
        if self.errors:
            return HookDelivery.Outcome.PARTIAL
        if self.created or self.resolved:
            return HookDelivery.Outcome.RECORDED
        return HookDelivery.Outcome.UNCHANGED if self.unchanged else HookDelivery.Outcome.IGNORED


# --- Creating hooks -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HookCreated:
    hook: Hook
    secret: str  # the signing secret (signed senders) or the bearer token (the others); shown once


def hook_create(
    *, source: str, name: str, team: Team, service: Service | None = None, secret: str = "",
    environment_map: dict[str, str] | None = None,
) -> HookCreated:  # fmt: skip
    """Create a hook for `source` acting for `team`. A signed sender gets `secret` (or a new random one); a sender
    with a bearer token gets a new token of the `hook` scope, accepted by this hook's receiver only."""
    if source not in Hook.Source.values:
        raise ValidationError({"source": f"Unknown source {source!r}; one of {', '.join(Hook.Source.values)}."})
    if service is not None and not service_writable_by(team, service):
        raise ValidationError({"service": not_writable_detail(team, service)})
    hook = Hook(name=name, source=source, team=team, service=service, environment_map=environment_map or {})
    if hook.signed:
        hook.secret = secret or secrets.token_urlsafe(32)
    elif secret:
        raise ValidationError({"secret": f"{hook.get_source_display()} sends a token, not a signature."})
    hook.full_clean(exclude=["token"])
    with transaction.atomic():
        raw = hook.secret
        if not hook.signed:
            token, raw = api_token_create(name=f"{source} hook: {name}"[:100], team=team, scope="hook")
            hook.token = token
        hook.save()
        audit_record(obj=hook, action="created", changes={"source": [None, source], "team": [None, team.slug]})
    return HookCreated(hook, raw)


def hook_touch(*, hook: Hook | None) -> None:
    if hook is not None:
        Hook.objects.filter(pk=hook.pk).update(last_delivery_at=timezone.now())


# --- Recording what a sender reports --------------------------------------------------------------------------


def _title(text: str, *, into: Redactions) -> str:
    """One line, redacted whole, then cut to the model's length: a secret cut in half would escape redaction."""
    title = _redact({"title": one_line(text)}, into=into)["title"]
    field_ = Incident._meta.get_field("title")
    if not isinstance(field_, models.CharField) or field_.max_length is None:
        raise TypeError("Incident.title must be a CharField with a max_length")
    return _cut(title, field_.max_length) or "(untitled)"


def _environment(sender: Sender, name: str) -> Environment | None:
    mapping = sender.environment_map
    slug = mapping.get(name) or name or mapping.get(DEFAULT_ENVIRONMENT_KEY, "")
    found = Environment.objects.filter(slug=slug).first() if slug else None
    if found is None and DEFAULT_ENVIRONMENT_KEY in mapping:
        found = Environment.objects.filter(slug=mapping[DEFAULT_ENVIRONMENT_KEY]).first()
    return found


def _service(sender: Sender, event: TriageEvent) -> tuple[Service | None, str]:
    """The hook's service (an admin's choice), else the one the event names (by slug, else by name), and a
    warning when that one is another team's (the item is filed without it)."""
    if sender.hook is not None and sender.hook.service is not None:
        return sender.hook.service, ""
    service = event.service_object
    if service is None and event.service:
        service = (
            Service.objects.filter(slug=event.service).first()
            or Service.objects.annotate(lower=Lower("name")).filter(lower=event.service.lower()).first()
        )
    if service is not None and not service_writable_by(sender.team, service):
        return None, not_writable_detail(sender.team, service) + " The item is filed without it."
    return service, ""


def _key(event: TriageEvent) -> str:
    key = one_line(event.key)
    return key if len(key) <= MAX_KEY_LENGTH else hashlib.sha256(key.encode()).hexdigest()


def _resolve(actor: Viewer, incident: Incident, resolved_at: dt.datetime | None) -> tuple[Incident, str]:
    if resolved_at is None or incident.resolved_at is not None:
        return incident, "unchanged"
    if incident.started_at and resolved_at < incident.started_at:
        resolved_at = incident.started_at
    for _ in range(3):  # someone may be editing the item at the same moment
        try:
            return incident_update(
                actor=actor, incident=incident, expected_version=incident.version,
                changes={"resolved_at": resolved_at},
            ).obj, "resolved"  # fmt: skip
        except VersionConflict as conflict:
            incident = conflict.current
            if incident.resolved_at is not None:
                return incident, "unchanged"
    raise VersionConflict(incident)


def _event_record(sender: Sender, event: TriageEvent, outcome: HookOutcome, now: dt.datetime) -> None:
    service, note = _service(sender, event)
    started_at = event.started_at or now
    resolved_at = max(event.resolved_at or now, started_at) if event.resolved else None
    redactions: Redactions = {}
    title = _title(event.title, into=redactions)
    saved, created = incident_record_for_tool(
        actor=sender.actor, team=sender.team, source=sender.source, external_id=f"team{sender.team.pk}/{_key(event)}",
        kind=Incident.Kind.INCIDENT, status=Incident.Status.TRIAGE, title=title, summary=event.summary,
        severity=event.severity, environment=_environment(sender, event.environment),
        caught_by=Incident.CaughtBy.MONITORING_ALERT, started_at=started_at, detected_at=started_at,
        resolved_at=resolved_at, services=[service] if service else [],
    )  # fmt: skip
    if created:
        _merge_redactions(redactions, saved.redactions)
        outcome.created.append(saved.obj.reference)
        if redactions:
            outcome.redacted[saved.obj.reference] = redactions
    else:
        incident, what = _resolve(sender.actor, saved.obj, resolved_at)
        getattr(outcome, what).append(incident.reference)
    if note:
        outcome.warnings.append({outcome.key_name: event.ref, "service": event.service or getattr(
            event.service_object, "slug", ""), "detail": note})  # fmt: skip


def _error_detail(error: ValidationError) -> dict[str, Any]:
    if hasattr(error, "error_dict"):
        return {
            ("non_field_errors" if name == NON_FIELD_ERRORS else name): messages
            for name, messages in error.message_dict.items()
        }
    return {"non_field_errors": error.messages}


def hook_events_record(
    *, sender: Sender, events: list[TriageEvent], event: str, delivery_id: str = "", key_name: str = "key",
    ignored: str = "",
) -> HookOutcome:  # fmt: skip
    """Record one delivery of `sender`: each of its events (an error in one leaves the others recorded), and
    the delivery itself. A delivery id already handled changes nothing (`duplicate`); `ignored` says why a
    delivery without events records nothing. The sender's event name is kept in the delivery log cut to its
    column (a custom Opsgenie action may be named at length)."""
    outcome = HookOutcome(key_name=key_name)
    event = one_line(event)[: HookDelivery._meta.get_field("event").max_length]
    with transaction.atomic():
        delivery, fresh = hook_delivery_claim(
            source=sender.source,
            delivery_id=delivery_id,
            hook=sender.hook,
            token=sender.token,
            event=event,
            team=sender.team,
        )
        if not fresh:
            outcome.duplicate, outcome.detail = True, f"Delivery {delivery_id} already received."
            return outcome
        now = timezone.now()
        for item in events:
            try:
                with transaction.atomic():
                    _event_record(sender, item, outcome, now)
            except ValidationError as error:
                outcome.errors.append({key_name: item.ref, **_error_detail(error)})
            except VersionConflict:
                outcome.errors.append({key_name: item.ref, "detail": "Being edited; resend."})
        outcome.detail = ignored if not events else ""
        detail = f"{len(events)} events, {len(outcome.errors)} not recorded" if outcome.errors else ignored
        hook_delivery_finish(delivery=delivery, outcome=outcome.delivery_outcome, detail=detail)
    hook_touch(hook=sender.hook)
    return outcome
