"""The audit trail: who changed what and when.

Services call `audit_record` in the transaction that makes the change. Who is acting comes from the request
(AuditActorMiddleware for people, the API's authentication for tokens and hooks) or from `acting_as` in
commands and tasks; anything else is "system".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.db.models.functions import Cast
from django.http import HttpRequest, HttpResponse

from incidents.models import ActionItem, AuditEntry, Incident, IncidentRevision

LONG_TEXT = 200  # longer values are recorded as "changed", not copied (revisions keep postmortem text)


@dataclass(frozen=True)
class Actor:
    user: User | None
    label: str


SYSTEM = Actor(None, "system")
# Who files a confidential near-miss, as the trail records it: nobody by name (confidential means undetectable).
CONFIDENTIAL_REPORTER = Actor(None, "confidential reporter")
_actor: ContextVar[Actor] = ContextVar("hindsight_audit_actor", default=SYSTEM)


def current_actor() -> Actor:
    return _actor.get()


def set_actor(*, user: User | None = None, label: str | None = None) -> None:
    """Name who is acting for the rest of this request or task."""
    _actor.set(Actor(user, label or (user.get_username() if user is not None else "system")))


@contextmanager
def acting_as(*, user: User | None = None, label: str | None = None, actor: Actor | None = None) -> Iterator[None]:
    """Name who is acting inside the block: a user, a label, or a ready Actor such as CONFIDENTIAL_REPORTER."""
    if actor is None:
        actor = Actor(user, label or (user.get_username() if user is not None else "system"))
    token = _actor.set(actor)
    try:
        yield
    finally:
        _actor.reset(token)


class AuditActorMiddleware:
    """The signed-in person acts for the whole request; API authentication may name a token instead."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        token = _actor.set(
            Actor(user, user.get_username()) if user is not None and user.is_authenticated else SYSTEM
        )
        try:
            return self.get_response(request)
        finally:
            _actor.reset(token)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, models.Model):
        return str(value)
    if isinstance(value, str) and len(value) > LONG_TEXT:
        return f"({len(value)} characters)"
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def snapshot(obj: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in fields}


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Field → [before, after] for the fields whose value changed."""
    return {
        name: [_jsonable(before.get(name)), _jsonable(after.get(name))]
        for name in after
        if before.get(name) != after.get(name)
    }


def audit_record(*, obj: models.Model, action: str, changes: Mapping[str, list[Any]] | None = None) -> AuditEntry:
    actor = current_actor()
    return AuditEntry.objects.create(
        actor=actor.user if actor.user is not None and actor.user.is_authenticated else None,
        actor_label=actor.label[:150],
        action=action,
        content_type=ContentType.objects.get_for_model(obj, for_concrete_model=False),
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        changes=dict(changes or {}),
    )


def audit_trail(obj: models.Model):
    """The entries of one object, newest first."""
    return AuditEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(obj, for_concrete_model=False), object_id=str(obj.pk)
    ).select_related("actor")


def audit_scrub_person(*, incident_id: int, user: User) -> int:
    """Make the trail of a confidential near-miss forget `user`, its reporter: every entry of the item and of
    its action items that names them as the actor becomes the anonymous CONFIDENTIAL_REPORTER, and its
    revisions lose them as author. Idempotent; returns how many audit entries were rewritten."""
    item_ids = [str(pk) for pk in ActionItem.objects.filter(incident_id=incident_id).values_list("pk", flat=True)]
    of_item = Q(content_type=ContentType.objects.get_for_model(Incident), object_id=str(incident_id))
    if item_ids:
        of_item |= Q(content_type=ContentType.objects.get_for_model(ActionItem), object_id__in=item_ids)
    named = Q(actor_id=user.pk) | Q(actor_label=user.get_username())
    rewritten = AuditEntry.objects.filter(of_item & named).update(
        actor=None, actor_label=CONFIDENTIAL_REPORTER.label
    )
    IncidentRevision.objects.filter(incident_id=incident_id, author_id=user.pk).update(author=None)
    return rewritten


def confidential_trail() -> Q:
    """Audit entries about confidential near-misses and their action items (for who may not see them)."""
    as_key = Cast("pk", output_field=models.CharField())
    incidents = Incident.objects.filter(confidential=True).annotate(key=as_key).values("key")
    items = ActionItem.objects.filter(incident__confidential=True).annotate(key=as_key).values("key")
    return Q(content_type=ContentType.objects.get_for_model(Incident), object_id__in=incidents) | Q(
        content_type=ContentType.objects.get_for_model(ActionItem), object_id__in=items
    )
