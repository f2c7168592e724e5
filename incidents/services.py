"""Every write to the domain. The web forms, the API and the webhooks all come through here.

Each service validates its input and raises django.core.exceptions.ValidationError, keyed by field where
there is one, so that every door can show the person or tool which field to fix.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from incidents.markdown import POSTMORTEM_TEMPLATE, render_markdown
from incidents.models import (
    ActionItem,
    Cause,
    ConfidentialReporter,
    Deployment,
    Environment,
    Incident,
    IncidentCause,
    IncidentCounter,
    Membership,
    Release,
    Service,
    Team,
    TimelineEntry,
    validate_gates,
)


class VersionConflict(Exception):
    """A write was based on an older version of the incident than the one stored."""

    def __init__(self, current: Incident) -> None:
        super().__init__(f"{current.reference} is at version {current.version}")
        self.current = current


@dataclass(frozen=True)
class CauseInput:
    cause: Cause
    note: str = ""
    gate: str = ""


@dataclass(frozen=True)
class TimelineInput:
    at: dt.datetime
    text: str


@dataclass(frozen=True)
class ActionItemInput:
    title: str
    owner: AbstractBaseUser | None = None
    team: Team | None = None
    due_date: dt.date | None = None
    cause: Cause | None = None
    ticket_url: str = ""


@dataclass(frozen=True)
class NearMissFiling:
    incident: Incident
    receipt_code: str | None  # shown once to the reporter of a confidential near-miss


# Status workflow: triage items are promoted or dismissed; postmortems go draft → in review → published.
STATUS_TRANSITIONS: dict[str, set[str]] = {
    Incident.Status.TRIAGE: {Incident.Status.DRAFT, Incident.Status.PUBLISHED, Incident.Status.DISMISSED},
    Incident.Status.DRAFT: {Incident.Status.IN_REVIEW, Incident.Status.DISMISSED},
    Incident.Status.IN_REVIEW: {Incident.Status.DRAFT, Incident.Status.PUBLISHED},
    Incident.Status.PUBLISHED: {Incident.Status.IN_REVIEW},
    Incident.Status.DISMISSED: {Incident.Status.TRIAGE},
}
UPDATABLE_FIELDS = frozenset(
    {
        "kind", "title", "summary", "potential_impact", "trigger", "severity", "status", "environment",
        "caught_by", "started_at", "detected_at", "mitigated_at", "resolved_at", "body", "confidential",
    }
)  # fmt: skip


def receipt_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def incident_numbers_reserve(*, kind: str, count: int = 1) -> int:
    """Reserve `count` consecutive numbers for `kind` and return the first.

    The UPDATE takes the counter row's lock until the surrounding transaction ends, so concurrent
    creators queue here and no two get the same number; a rolled-back transaction returns its numbers.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("Numbers must be allocated inside the transaction that stores them.")
    IncidentCounter.objects.filter(kind=kind).update(last_number=F("last_number") + count)
    last = IncidentCounter.objects.values_list("last_number", flat=True).get(kind=kind)
    return last - count + 1


def _check_membership(user: AbstractBaseUser, team: Team) -> None:
    if getattr(user, "is_superuser", False):
        return
    if not Membership.objects.filter(user=user, team=team).exists():
        raise ValidationError({"team": f"You are not a member of {team.name}."})


def _check_causes(causes: Sequence[CauseInput], *, already_attached: Iterable[int] = ()) -> None:
    slugs = [item.cause.slug for item in causes]
    duplicates = sorted({slug for slug in slugs if slugs.count(slug) > 1})
    if duplicates:
        raise ValidationError({"causes": f"Each cause may be given once; repeated: {', '.join(duplicates)}."})
    kept = set(already_attached)
    inactive = [item.cause.slug for item in causes if not item.cause.active and item.cause.pk not in kept]
    if inactive:
        raise ValidationError({"causes": f"These causes are retired and cannot be added: {', '.join(inactive)}."})
    gates = set(IncidentCause.Gate.values) | {""}
    for item in causes:
        if item.gate not in gates:
            raise ValidationError(
                {"causes": f"Gate {item.gate!r} for {item.cause.slug} is not one of {sorted(gates - {''})}."}
            )


def _check_external_id(source: str, external_id: str) -> None:
    if not external_id:
        return
    existing = Incident.objects.filter(source=source, external_id=external_id).first()
    if existing:
        raise ValidationError(
            {"external_id": f"{source}/{external_id} is already recorded as {existing.reference}."}
        )


def _store_causes(incident: Incident, causes: Sequence[CauseInput]) -> None:
    IncidentCause.objects.bulk_create(
        IncidentCause(incident=incident, cause=item.cause, note=item.note, gate=item.gate) for item in causes
    )


def _store_timeline(incident: Incident, entries: Sequence[TimelineInput]) -> None:
    rows = [TimelineEntry(incident=incident, at=entry.at, text=entry.text) for entry in entries]
    for row in rows:
        row.full_clean(exclude=["incident"])
    TimelineEntry.objects.bulk_create(rows)


@transaction.atomic
def incident_create(
    *,
    team: Team,
    kind: str,
    title: str,
    reporter: AbstractBaseUser | None = None,
    status: str = Incident.Status.DRAFT,
    services: Sequence[Service] = (),
    releases: Sequence[Release] = (),
    causes: Sequence[CauseInput] = (),
    timeline: Sequence[TimelineInput] = (),
    action_items: Sequence[ActionItemInput] = (),
    body: str | None = None,
    source: str = "web",
    external_id: str = "",
    **fields: Any,
) -> Incident:
    """Create an incident or near-miss with its causes, timeline and action items in one transaction."""
    unknown = set(fields) - UPDATABLE_FIELDS
    if unknown:
        raise ValidationError({name: "This field cannot be set." for name in sorted(unknown)})
    if reporter is not None:
        _check_membership(reporter, team)
    _check_causes(causes)
    _check_external_id(source, external_id)
    body = POSTMORTEM_TEMPLATE if body is None and kind == Incident.Kind.INCIDENT else (body or "")
    incident = Incident(
        team=team, kind=kind, title=title, status=status, reporter=reporter, source=source,
        external_id=external_id, body=body, body_html=render_markdown(body), number=0, **fields,
    )  # fmt: skip
    incident.full_clean(exclude=["number"])
    incident.number = incident_numbers_reserve(kind=kind)
    incident.save()
    incident.services.set(services)
    incident.releases.set(releases)
    _store_causes(incident, causes)
    _store_timeline(incident, timeline)
    for item in action_items:
        action_item_create(incident=incident, **vars(item))
    return incident


@transaction.atomic
def near_miss_report(
    *,
    reporter: AbstractBaseUser,
    team: Team,
    title: str,
    summary: str,
    environment: Environment,
    caught_by: str,
    potential_impact: str = "",
    causes: Sequence[Cause] = (),
    service: Service | None = None,
    release: Release | None = None,
    confidential: bool = False,
    severity: str = "",
    started_at: dt.datetime | None = None,
) -> NearMissFiling:
    """File a near-miss. A confidential one keeps its reporter apart and hands back a receipt code."""
    if not caught_by:
        raise ValidationError({"caught_by": "Say how it was caught."})
    if release is not None and service is not None and release.service_id != service.pk:
        raise ValidationError(
            {"release": f"Release {release.version} belongs to {release.service.name}, not {service.name}."}
        )
    if release is not None and service is None:
        service = release.service
    if confidential:  # otherwise incident_create checks the reporter it stores
        _check_membership(reporter, team)
    incident = incident_create(
        team=team, kind=Incident.Kind.NEAR_MISS, title=title, summary=summary,
        potential_impact=potential_impact, environment=environment, caught_by=caught_by,
        severity=severity, started_at=started_at or timezone.now(), confidential=confidential,
        status=Incident.Status.PUBLISHED, reporter=None if confidential else reporter,
        services=[service] if service else [], releases=[release] if release else [],
        causes=[CauseInput(cause=cause) for cause in causes],
    )  # fmt: skip
    receipt_code = None
    if confidential:
        receipt_code = secrets.token_urlsafe(24)
        ConfidentialReporter.objects.create(
            incident=incident, user=reporter, receipt_hash=receipt_hash(receipt_code)
        )
    return NearMissFiling(incident=incident, receipt_code=receipt_code)


def _check_transition(current: str, new: str) -> None:
    if new != current and new not in STATUS_TRANSITIONS.get(current, set()):
        allowed = ", ".join(sorted(STATUS_TRANSITIONS.get(current, set()))) or "nothing"
        raise ValidationError({"status": f"An item in {current} can move to {allowed}, not to {new}."})


@transaction.atomic
def incident_update(
    *,
    incident: Incident,
    expected_version: int,
    changes: Mapping[str, Any] | None = None,
    services: Sequence[Service] | None = None,
    releases: Sequence[Release] | None = None,
    causes: Sequence[CauseInput] | None = None,
) -> Incident:
    """Update an incident if nobody else has since `expected_version`; raises VersionConflict otherwise.

    1. Validate the new values on the in-memory row.
    2. Write them with an UPDATE conditioned on the version, which also bumps it: of two racing
       writers based on the same version, exactly one matches a row.
    3. Replace the related sets that were given.
    """
    changes = dict(changes or {})
    unknown = set(changes) - UPDATABLE_FIELDS
    if unknown:
        raise ValidationError({name: "This field cannot be changed." for name in sorted(unknown)})
    if "status" in changes:
        _check_transition(incident.status, changes["status"])
    if causes is not None:
        _check_causes(causes, already_attached=incident.incident_causes.values_list("cause_id", flat=True))
    for name, value in changes.items():
        setattr(incident, name, value)
    if "body" in changes:
        incident.body_html = changes["body_html"] = render_markdown(incident.body)
    incident.full_clean()

    now = timezone.now()
    columns = {name: getattr(incident, name) for name in changes}
    updated = Incident.objects.filter(pk=incident.pk, version=expected_version).update(
        **columns, version=F("version") + 1, updated_at=now
    )
    if not updated:
        raise VersionConflict(Incident.objects.get(pk=incident.pk))
    incident.version, incident.updated_at = expected_version + 1, now

    if services is not None:
        incident.services.set(services)
    if releases is not None:
        incident.releases.set(releases)
    if causes is not None:
        incident.incident_causes.all().delete()
        _store_causes(incident, causes)
    return incident


def timeline_entry_add(*, incident: Incident, at: dt.datetime, text: str) -> TimelineEntry:
    entry = TimelineEntry(incident=incident, at=at, text=text)
    entry.full_clean()
    entry.save()
    return entry


def action_item_create(
    *,
    incident: Incident,
    title: str,
    owner: AbstractBaseUser | None = None,
    team: Team | None = None,
    due_date: dt.date | None = None,
    cause: Cause | None = None,
    ticket_url: str = "",
) -> ActionItem:
    item = ActionItem(
        incident=incident,
        title=title,
        owner=owner,
        team=team,
        due_date=due_date,
        cause=cause,
        ticket_url=ticket_url,
    )
    item.full_clean()
    item.save()
    return item


def action_item_complete(
    *, action_item: ActionItem, status: str = ActionItem.Status.DONE, at: dt.datetime | None = None
) -> ActionItem:
    """Close an open action item as done or won't do. Closing an already closed item changes nothing."""
    if status not in (ActionItem.Status.DONE, ActionItem.Status.WONT_DO):
        raise ValidationError({"status": "An action item is closed as done or wont_do."})
    at = at or timezone.now()
    if at < action_item.created_at:
        raise ValidationError({"completed_at": "Cannot be before the item was created."})
    ActionItem.objects.filter(pk=action_item.pk, status=ActionItem.Status.OPEN).update(
        status=status, completed_at=at
    )
    action_item.refresh_from_db(fields=["status", "completed_at"])
    return action_item


def release_record(
    *,
    service: Service,
    version: str,
    artifact_digest: str = "",
    commit_sha: str = "",
    url: str = "",
    created_at: dt.datetime | None = None,
) -> Release:
    """Return the release of `service` at `version`, creating it when new.

    A release is a known artifact: recording the same version with a different digest or commit is refused.
    """
    candidate = Release(
        service=service, version=version, artifact_digest=artifact_digest, commit_sha=commit_sha, url=url,
        created_at=created_at or timezone.now(),
    )  # fmt: skip
    candidate.full_clean(validate_unique=False, validate_constraints=False)
    release, created = Release.objects.get_or_create(
        service=service, version=version, defaults={field: getattr(candidate, field) for field in (
            "artifact_digest", "commit_sha", "url", "created_at")}
    )  # fmt: skip
    if created:
        return release
    filled = []
    for field in ("artifact_digest", "commit_sha", "url"):
        given, stored = getattr(candidate, field), getattr(release, field)
        if given and stored and given != stored:
            raise ValidationError(
                {field: f"{service.slug} {version} was recorded with {field} {stored}, not {given}."}
            )
        if given and not stored:
            setattr(release, field, given)
            filled.append(field)
    if filled:
        release.save(update_fields=filled)
    return release


@transaction.atomic
def deployment_record(
    *,
    service: Service,
    version: str,
    environment: Environment,
    status: str,
    deployed_at: dt.datetime | None = None,
    gates: Mapping[str, str] | None = None,
    rollback_rehearsed: bool = False,
    artifact_digest: str = "",
    commit_sha: str = "",
    url: str = "",
    source: str = "",
    external_id: str = "",
) -> Deployment:
    """Record one promotion of a release into an environment, creating the release when it is new.

    With an external_id, the deployment is recorded once per (source, external_id); later calls update its
    status and gates (a deployment that starts, then succeeds or rolls back).
    """
    gates = dict(gates or {})
    try:
        validate_gates(gates)
    except ValidationError as error:
        raise ValidationError({"gates": error.messages}) from None
    release = release_record(
        service=service, version=version, artifact_digest=artifact_digest, commit_sha=commit_sha, url=url
    )
    values = {
        "release": release, "environment": environment, "status": status, "gates": gates,
        "rollback_rehearsed": rollback_rehearsed, "deployed_at": deployed_at or timezone.now(),
    }  # fmt: skip
    if external_id:
        existing = Deployment.objects.select_for_update().filter(source=source, external_id=external_id).first()
        if existing is not None:
            for name, value in values.items():
                setattr(existing, name, value)
            existing.full_clean(validate_unique=False, validate_constraints=False)
            existing.save()
            return existing
    deployment = Deployment(source=source, external_id=external_id, **values)
    deployment.full_clean()
    deployment.save()
    return deployment


# --- Web app for people: postmortem revisions, status changes, triage -----------------------------------
from incidents.models import IncidentRevision  # noqa: E402


def incident_revision_record(*, incident: Incident, author: AbstractBaseUser | None) -> IncidentRevision:
    """Keep the text of `incident` at its current version. Confidential items keep no author."""
    revision, _ = IncidentRevision.objects.update_or_create(
        incident=incident,
        version=incident.version,
        defaults={
            "author": None if incident.confidential else author,
            "title": incident.title,
            "summary": incident.summary,
            "trigger": incident.trigger,
            "body": incident.body,
            "status": incident.status,
        },
    )
    return revision


@transaction.atomic
def postmortem_create(*, author: AbstractBaseUser, team: Team, **fields: Any) -> Incident:
    """Create an incident from the web editor and keep its first revision."""
    incident = incident_create(team=team, kind=Incident.Kind.INCIDENT, reporter=author, **fields)
    incident_revision_record(incident=incident, author=author)
    return incident


@transaction.atomic
def postmortem_update(
    *, incident: Incident, editor: AbstractBaseUser, expected_version: int, **changes: Any
) -> Incident:
    """incident_update from the web editor, keeping a revision of the new version (VersionConflict as there)."""
    incident = incident_update(incident=incident, expected_version=expected_version, **changes)
    incident_revision_record(incident=incident, author=editor)
    return incident


@transaction.atomic
def triage_promote(
    *, incident: Incident, kind: str, expected_version: int, editor: AbstractBaseUser | None = None
) -> Incident:
    """Promote a triage item to a draft incident or near-miss, with a number of its new kind when it changes.

    1. Check the item is still in triage and the kind is one we know.
    2. Reserve a number of the new kind (when the kind changes) inside this transaction.
    3. Write kind, number and status with an UPDATE conditioned on the version and the triage status.
    """
    if kind not in Incident.Kind.values:
        raise ValidationError({"kind": f"Promote to one of {', '.join(Incident.Kind.values)}."})
    if incident.status != Incident.Status.TRIAGE:
        raise ValidationError({"status": f"{incident.reference} is not in triage any more."})
    if incident.confidential and kind != Incident.Kind.NEAR_MISS:
        raise ValidationError({"kind": "A confidential near-miss cannot become an incident."})
    columns: dict[str, Any] = {"status": Incident.Status.DRAFT}
    if kind != incident.kind:
        columns.update(kind=kind, number=incident_numbers_reserve(kind=kind))
    if kind == Incident.Kind.INCIDENT and not incident.body.strip():
        columns.update(body=POSTMORTEM_TEMPLATE, body_html=render_markdown(POSTMORTEM_TEMPLATE))
    now = timezone.now()
    updated = Incident.objects.filter(
        pk=incident.pk, version=expected_version, status=Incident.Status.TRIAGE
    ).update(**columns, version=F("version") + 1, updated_at=now)
    if not updated:
        raise VersionConflict(Incident.objects.get(pk=incident.pk))
    incident.refresh_from_db()
    incident_revision_record(incident=incident, author=editor)
    return incident
