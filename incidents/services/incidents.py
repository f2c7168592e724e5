"""Writes of incidents and near-misses, their causes, timelines, action items, revisions and triage.

Every door (the web forms, the API, the webhooks) files and edits through here: redaction on ingest, the
status workflow, version checks, the audit trail and the follow-up work all happen once, in these functions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypedDict, TypeVar

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.mail import send_mail, send_mass_mail
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from incidents.audit import (
    CONFIDENTIAL_REPORTER,
    acting_as,
    audit_record,
    audit_scrub_person,
    diff,
    snapshot,
)
from incidents.mail import SUBJECT_LENGTH, header_text
from incidents.markdown import POSTMORTEM_TEMPLATE, render_markdown
from incidents.models import (
    ActionItem,
    Cause,
    ConfidentialReporter,
    Environment,
    Incident,
    IncidentCause,
    IncidentCounter,
    IncidentRevision,
    Membership,
    Release,
    Service,
    Team,
    TimelineEntry,
    WebhookEventType,
)
from incidents.outbox import outbox_enqueue
from incidents.policies import (
    Viewer,
    may_complete,
    may_edit,
    may_edit_action_item,
    may_file_for,
    may_file_published,
    may_set_status,
    may_triage,
    require,
    service_writable_by,
    viewer_for_user,
)
from incidents.redaction import redact_fields
from incidents.services.chat import chat_announce
from incidents.services.webhooks import (
    webhook_action_item_event,
    webhook_confidential_opened,
    webhook_incident_filed,
    webhook_postmortem_published,
)
from incidents.tokens import receipt_code_new, receipt_hash


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
    owner: User | None = None
    team: Team | None = None
    due_date: dt.date | None = None
    cause: Cause | None = None
    ticket_url: str = ""


Redactions = dict[str, dict[str, int]]  # field → placeholder kind → how many were replaced
T = TypeVar("T")


@dataclass(frozen=True)
class Saved(Generic[T]):
    """What a write stored, and what redaction on ingest replaced on the way in (for the door to report)."""

    obj: T
    redactions: Redactions = field(default_factory=dict)


@dataclass(frozen=True)
class NearMissFiling:
    incident: Incident
    receipt_code: str | None  # shown once to the reporter of a confidential near-miss
    redactions: Redactions = field(default_factory=dict)


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
        "title", "summary", "potential_impact", "trigger", "severity", "status", "environment",
        "caught_by", "started_at", "detected_at", "mitigated_at", "resolved_at", "body", "confidential",
    }
)  # fmt: skip


# Free text of an incident, each passed through the redaction policy of its name (incidents/redaction.py).
INCIDENT_TEXT_FIELDS = ("title", "summary", "potential_impact", "trigger", "body")


def _redact(
    values: Mapping[str, str], *, into: Redactions, policy_prefix: str = "", error_key: str | None = None
) -> dict[str, str]:
    """Apply each field's redaction policy (`policy_prefix` + name) and note what was replaced in `into`.

    A rejected field raises ValidationError under its own name, or under `error_key` for nested input
    (a timeline entry of an incident is reported as `timeline`).
    """
    try:
        result = redact_fields(values, prefix=policy_prefix)
    except ValidationError as error:
        if error_key is None:
            raise
        raise ValidationError({error_key: error.messages}) from None
    for name, kinds in result.found.items():
        counts = into.setdefault(f"{policy_prefix}{name}", {})
        for kind, count in kinds.items():
            counts[kind] = counts.get(kind, 0) + count
    return result.values


def _merge_redactions(into: Redactions, found: Redactions) -> None:
    for name, kinds in found.items():
        counts = into.setdefault(name, {})
        for kind, count in kinds.items():
            counts[kind] = counts.get(kind, 0) + count


def incident_numbers_reserve(*, kind: str, count: int = 1) -> int:
    """Reserve `count` consecutive numbers of the sequence `kind` and return the first.

    `kind` names a counter row: "incident", "near_miss" or "near_miss_confidential" (Incident.number_sequence).
    The UPDATE takes the counter row's lock until the surrounding transaction ends, so concurrent
    creators queue here and no two get the same number; a rolled-back transaction returns its numbers.
    A sequence whose row is missing (a flushed test database) starts at 1.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("Numbers must be allocated inside the transaction that stores them.")
    counter = IncidentCounter.objects.filter(kind=kind)
    if not counter.update(last_number=F("last_number") + count):
        IncidentCounter.objects.get_or_create(kind=kind)
        counter.update(last_number=F("last_number") + count)
    last = counter.values_list("last_number", flat=True).get()
    return last - count + 1


def _number_for(*, kind: str, confidential: bool) -> int:
    return incident_numbers_reserve(kind=Incident.number_sequence(kind=kind, confidential=confidential))


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


def _check_filing(actor: Viewer, team: Team, *, kind: str, status: str, fields: Mapping[str, Any]) -> None:
    """Validate and authorize a filing: known fields only; the actor may file for the team (the team is a field
    the person chose, so a refusal names it), and may file it already published."""
    unknown = set(fields) - UPDATABLE_FIELDS
    if unknown:
        raise ValidationError({name: "This field cannot be set." for name in sorted(unknown)})
    if not (decision := may_file_for(actor, team)):
        raise ValidationError({"team": decision.rule})
    require(may_file_published(actor, team, kind=kind, status=status))


def _redacted_filing(
    *,
    kind: str,
    title: str,
    body: str | None,
    fields: dict[str, Any],
    causes: Sequence[CauseInput],
    timeline: Sequence[TimelineInput],
    into: Redactions,
) -> tuple[dict[str, Any], list[CauseInput], list[TimelineInput]]:
    """The incident's texts (a new incident starts from the postmortem template), causes and timeline, each
    through its redaction policy. Returns the columns to store, the causes and the timeline entries."""
    body = POSTMORTEM_TEMPLATE if body is None and kind == Incident.Kind.INCIDENT else (body or "")
    texts = {"title": title, "body": body} | {
        name: fields[name] for name in INCIDENT_TEXT_FIELDS if name in fields
    }
    columns = fields | _redact(texts, into=into)
    redacted_causes = [_redacted_cause(item, into=into) for item in causes]
    redacted_timeline = [
        replace(entry, text=_redact({"text": entry.text}, into=into, policy_prefix="timeline.",
                                    error_key="timeline")["text"])
        for entry in timeline
    ]  # fmt: skip
    return columns, redacted_causes, redacted_timeline


def _store_new_incident(*, team: Team, kind: str, columns: Mapping[str, Any], **origin: Any) -> Incident:
    """Validate the new row, number it in its sequence and save it."""
    incident = Incident(team=team, kind=kind, body_html=render_markdown(columns["body"]), number=0, **origin,
                        **columns)  # fmt: skip
    # The fields' choices and Incident.clean() check what the check constraints check (the database still
    # enforces them); validating each constraint through the database cost three round trips apiece.
    incident.full_clean(exclude=["number"], validate_constraints=False)
    incident.number = _number_for(kind=kind, confidential=incident.confidential)
    incident.save()
    return incident


def _link_filing(
    incident: Incident,
    *,
    services: Sequence[Service],
    releases: Sequence[Release],
    causes: Sequence[CauseInput],
    timeline: Sequence[TimelineInput],
) -> None:
    """Attach the services, releases, causes and timeline entries of a new item."""
    if services:  # a new item has none yet: set() would first read them
        incident.services.set(services)
    if releases:
        incident.releases.set(releases)
    _store_causes(incident, causes)
    _store_timeline(incident, timeline)


def _store_filed_action_items(incident: Incident, items: Sequence[ActionItemInput], *, into: Redactions) -> None:
    """The action items filed with the item (authorized with the filing itself)."""
    for item in items:
        try:
            created = _action_item_store(incident=incident, **vars(item))
        except ValidationError as error:
            raise ValidationError({"action_items": error.messages}) from None
        _merge_redactions(into, created.redactions)


def _hand_over_filed(incident: Incident) -> None:
    """Follow-up work of a new item, through the outbox: its leads hear of it (not of what waits in triage)."""
    if incident.status != Incident.Status.TRIAGE:
        outbox_enqueue(handler="incident_filed", incident_id=incident.pk)
    chat_announce(incident=incident, post="incident_filed")
    if incident.status == Incident.Status.PUBLISHED:
        chat_announce(incident=incident, post="postmortem_published")
    webhook_incident_filed(incident=incident)


@transaction.atomic
def incident_create(
    *,
    actor: Viewer,
    team: Team,
    kind: str,
    title: str,
    reporter: User | None = None,
    status: str = Incident.Status.DRAFT,
    services: Sequence[Service] = (),
    releases: Sequence[Release] = (),
    causes: Sequence[CauseInput] = (),
    timeline: Sequence[TimelineInput] = (),
    action_items: Sequence[ActionItemInput] = (),
    body: str | None = None,
    source: str = "web",
    external_id: str = "",
    announce: bool = True,
    **fields: Any,
) -> Saved[Incident]:
    """File an incident or near-miss for `team` as `actor`, with its causes, timeline and action items, in one
    transaction. `announce=False` (an import of old postmortems) tells no one: no leads' mail, chat post or
    webhook event."""
    _check_filing(actor, team, kind=kind, status=status, fields=fields)
    _check_causes(causes)
    _check_external_id(source, external_id)
    redactions: Redactions = {}
    columns, causes, timeline = _redacted_filing(
        kind=kind, title=title, body=body, fields=fields, causes=causes, timeline=timeline, into=redactions
    )
    incident = _store_new_incident(team=team, kind=kind, columns=columns, status=status, reporter=reporter,
                                   source=source, external_id=external_id)  # fmt: skip
    _link_filing(incident, services=services, releases=releases, causes=causes, timeline=timeline)
    _store_filed_action_items(incident, action_items, into=redactions)
    audit_record(obj=incident, action="created", changes={"status": [None, incident.status]})
    incident_revision_record(incident=incident, author_id=reporter.pk if reporter else None)
    if announce:
        _hand_over_filed(incident)
    return Saved(incident, redactions)


def incident_notify_leads(*, incident_id: int) -> int:
    """Outbox handler: tell the team's leads that an incident or near-miss was filed. Returns mails sent."""
    incident = Incident.objects.select_related("team", "environment").filter(pk=incident_id).first()
    if incident is None:
        return 0
    leads = list(
        Membership.objects.filter(team_id=incident.team_id, role=Membership.Role.LEAD)
        .exclude(user__email="")
        .values_list("user__email", flat=True)
    )
    if not leads:
        return 0
    path = reverse("incidents:incident_detail", args=[incident.reference])
    body = render_to_string("emails/incident_filed.txt", {"incident": incident, "url": settings.SITE_URL + path})
    subject = header_text(
        f"[Hindsight] {incident.reference} filed for {incident.team.name}: {incident.title}", SUBJECT_LENGTH
    )
    return send_mail(subject, body, None, leads)


def _redacted_cause(item: CauseInput, *, into: Redactions) -> CauseInput:
    note = _redact({"note": item.note}, into=into, policy_prefix="cause.", error_key="causes")["note"]
    return replace(item, note=note)


@transaction.atomic
def confidential_reporters_purge(*, now: dt.datetime | None = None) -> int:
    """Forget who filed confidential near-misses older than CONFIDENTIAL_REPORTER_RETENTION_DAYS.

    1. Lock the identities that are due (a concurrent run skips them, so each is purged once).
    2. Scrub every audit entry and revision of those items (and of their action items) that still names
       the reporter, as rows written before filings were audited anonymously may.
    3. Drop the identity with a conditional UPDATE: safe to run twice. The receipt hash stays, so the
       reporter's receipt link keeps working. Returns how many identities were forgotten.
    All in one transaction: an identity is never forgotten while the trail still names it.
    """
    now = now or timezone.now()
    due = now - dt.timedelta(days=settings.CONFIDENTIAL_REPORTER_RETENTION_DAYS)
    held = list(
        ConfidentialReporter.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(purged_at__isnull=True, created_at__lte=due)
        .select_related("user")
    )
    for row in held:
        if row.user is not None:
            audit_scrub_person(incident_id=row.incident_id, user=row.user)
    return ConfidentialReporter.objects.filter(pk__in=[row.pk for row in held], purged_at__isnull=True).update(
        user=None, purged_at=now
    )


def _check_near_miss(*, caught_by: str, service: Service | None, release: Release | None) -> Service | None:
    """A near-miss says how it was caught; a release belongs to the service given. Returns the service (the
    release's own when only a release is given)."""
    if not caught_by:
        raise ValidationError({"caught_by": "Say how it was caught."})
    if release is not None and service is not None and release.service_id != service.pk:
        raise ValidationError(
            {"release": f"Release {release.version} belongs to {release.service.name}, not {service.name}."}
        )
    if release is not None and service is None:
        return release.service
    return service


def _release_by_hand(
    *, team: Team, service: Service | None, version: str, confidential: bool
) -> tuple[Release | None, str]:
    """The release `version` of `service`, recorded by hand when no tool has (marked `entered_by_hand`), so that
    an unknown version never stops a filing. Returns (release, "") or, for a confidential near-miss naming an
    unknown version, (None, version): the version stays on the item, since a new release in the catalogue would
    show everyone that something was filed, and when. Only a team that may write for the service records one."""
    if service is None:
        raise ValidationError({"service": "Choose the service whose release carried it."})
    known = Release.objects.filter(service=service, version=version).first()
    if known is not None:
        return known, ""
    if confidential:
        return None, version
    if not service_writable_by(team, service):
        raise ValidationError(
            {
                "release_version": f"{service.name} has no release {version}. Another team owns the "
                "service and records its releases: pick a known one or leave Release empty."
            }
        )
    release, _ = Release.objects.get_or_create(
        service=service, version=version, defaults={"entered_by_hand": True}
    )
    return release, ""


def _keep_confidential_reporter(incident: Incident, reporter: User) -> str:
    """Keep who filed a confidential near-miss apart from the item; returns the receipt code, shown once."""
    receipt_code = receipt_code_new()
    ConfidentialReporter.objects.create(incident=incident, user=reporter, receipt_hash=receipt_hash(receipt_code))
    return receipt_code


@transaction.atomic
def near_miss_report(
    *,
    reporter: User,
    team: Team,
    title: str,
    summary: str,
    environment: Environment,
    caught_by: str,
    potential_impact: str = "",
    causes: Sequence[Cause] = (),
    service: Service | None = None,
    release: Release | None = None,
    release_version: str = "",
    confidential: bool = False,
    severity: str = "",
    started_at: dt.datetime | None = None,
) -> NearMissFiling:
    """File a near-miss as `reporter` (the actor). A confidential one keeps its reporter apart and hands back a
    receipt code. `release_version` names a release of `service` by its version; one that no tool recorded
    becomes a release entered by hand (see _release_by_hand)."""
    service = _check_near_miss(caught_by=caught_by, service=service, release=release)
    entered = ""
    if release is None and release_version:
        release, entered = _release_by_hand(team=team, service=service, version=release_version,
                                            confidential=confidential)  # fmt: skip
    # A confidential filing names nobody: not as the reporter, not in the audit trail.
    acting = acting_as(actor=CONFIDENTIAL_REPORTER) if confidential else nullcontext()
    with acting:
        filed = incident_create(
            actor=viewer_for_user(reporter), team=team, kind=Incident.Kind.NEAR_MISS, title=title,
            summary=summary, potential_impact=potential_impact, environment=environment, caught_by=caught_by,
            severity=severity, started_at=started_at or timezone.now(), confidential=confidential,
            status=Incident.Status.PUBLISHED, reporter=None if confidential else reporter,
            services=[service] if service else [], releases=[release] if release else [],
            causes=[CauseInput(cause=cause) for cause in causes],
        )  # fmt: skip
    if entered:
        filed.obj.release_entered = entered
        filed.obj.save(update_fields=["release_entered"])
    receipt_code = _keep_confidential_reporter(filed.obj, reporter) if confidential else None
    return NearMissFiling(incident=filed.obj, receipt_code=receipt_code, redactions=filed.redactions)


def _check_transition(current: str, new: str) -> None:
    if new != current and new not in STATUS_TRANSITIONS.get(current, set()):
        allowed = ", ".join(sorted(STATUS_TRANSITIONS.get(current, set()))) or "nothing"
        raise ValidationError({"status": f"An item in {current} can move to {allowed}, not to {new}."})


def incident_update_check(
    *, actor: Viewer, incident: Incident, changes: Mapping[str, Any], causes: Sequence[CauseInput] | None = None
) -> None:
    """Authorize and validate an update before making it (incident_update's first step; the admin's form asks it
    too): the actor may edit the item (and publish it, when that is the move); known fields only, an allowed
    status move, causes that may be attached. NotAllowed or ValidationError."""
    require(may_edit(actor, incident))
    if "status" in changes:
        require(may_set_status(actor, incident, changes["status"]))
    unknown = set(changes) - UPDATABLE_FIELDS
    if unknown:
        raise ValidationError({name: "This field cannot be changed." for name in sorted(unknown)})
    if "status" in changes:
        _check_transition(incident.status, changes["status"])
    if causes is not None:
        _check_causes(causes, already_attached=incident.incident_causes.values_list("cause_id", flat=True))
    _check_confidentiality_change(incident, changes)


def _apply_changes(incident: Incident, changes: dict[str, Any], *, renumbered: bool) -> None:
    """Set the new values on the in-memory row (a new NM number when it is opened, the HTML of a new body) and
    validate it. `changes` gains the derived columns."""
    for name, value in changes.items():
        setattr(incident, name, value)
    if renumbered:
        incident.number = changes["number"] = _number_for(kind=incident.kind, confidential=False)
    if "body" in changes:
        incident.body_html = changes["body_html"] = render_markdown(incident.body)
    incident.full_clean()


def _save_versioned(incident: Incident, changes: Mapping[str, Any], *, expected_version: int) -> None:
    """Write the changed columns with an UPDATE conditioned on the version, which also bumps it: of two racing
    writers based on the same version, exactly one matches a row. VersionConflict for the other."""
    now = timezone.now()
    columns = {name: getattr(incident, name) for name in changes}
    updated = Incident.objects.filter(pk=incident.pk, version=expected_version).update(
        **columns, version=F("version") + 1, updated_at=now
    )
    if not updated:
        raise VersionConflict(Incident.objects.get(pk=incident.pk))
    incident.version, incident.updated_at = expected_version + 1, now


class _Related(TypedDict):
    """The related sets an update may replace (None: left as they are)."""

    services: Sequence[Service] | None
    releases: Sequence[Release] | None
    causes: Sequence[CauseInput] | None


def _replace_related(
    incident: Incident,
    *,
    services: Sequence[Service] | None,
    releases: Sequence[Release] | None,
    causes: Sequence[CauseInput] | None,
) -> None:
    """Replace the related sets that were given."""
    if services is not None:
        incident.services.set(services)
    if releases is not None:
        incident.releases.set(releases)
    if causes is not None:
        incident.incident_causes.all().delete()
        _store_causes(incident, causes)


@transaction.atomic
def incident_update(
    *,
    actor: Viewer,
    incident: Incident,
    expected_version: int,
    changes: Mapping[str, Any] | None = None,
    services: Sequence[Service] | None = None,
    releases: Sequence[Release] | None = None,
    causes: Sequence[CauseInput] | None = None,
    author_id: int | None = None,
) -> Saved[Incident]:
    """Update an incident as `actor` if nobody else has since `expected_version`; VersionConflict otherwise.
    The new version's revision names `author_id`, else the actor's person (a tool's edit has none)."""
    changes = dict(changes or {})
    incident_update_check(actor=actor, incident=incident, changes=changes, causes=causes)
    redactions: Redactions = {}
    changes.update(
        _redact({name: changes[name] for name in INCIDENT_TEXT_FIELDS if name in changes}, into=redactions)
    )
    if causes is not None:
        causes = [_redacted_cause(item, into=redactions) for item in causes]
    renumbered = _check_confidentiality_change(incident, changes)
    audited = list(changes) + (["reference"] if renumbered else [])  # body_html follows body, unaudited
    related: _Related = {"services": services, "releases": releases, "causes": causes}
    before = snapshot(incident, audited) | _related_slugs(incident, **related)
    was_published = incident.status == Incident.Status.PUBLISHED
    _apply_changes(incident, changes, renumbered=renumbered)
    _save_versioned(incident, changes, expected_version=expected_version)
    _replace_related(incident, **related)
    changed = diff(before, snapshot(incident, audited) | _related_slugs(incident, **related))
    # Editing a published postmortem, by any door, is an amendment: recorded as one, and its team is told.
    amended = was_published and incident.kind == Incident.Kind.INCIDENT and bool(set(changed) - {"status"})
    if changed:
        audit_record(obj=incident, action="amended" if amended else "changed", changes=changed)
    note = IncidentRevision.AMENDMENT_NOTE if amended else ""
    incident_revision_record(incident=incident, author_id=author_id or actor.user_id, note=note)
    if amended:
        outbox_enqueue(handler="postmortem_amended", incident_id=incident.pk, version=incident.version)
    if renumbered:  # a confidential near-miss opened: those who could not see it hear of it as of one filed
        webhook_confidential_opened(incident=incident, was_published=was_published)
    if not was_published and incident.status == Incident.Status.PUBLISHED:
        chat_announce(incident=incident, post="postmortem_published")
        webhook_postmortem_published(incident=incident)
    return Saved(incident, redactions)


def postmortem_notify_amended(*, incident_id: int, version: int) -> int:
    """Outbox handler: tell the team's members that a published postmortem was amended (one mail per amendment,
    linking to the history, where the change shows as a diff). Returns mails sent."""
    incident = Incident.objects.select_related("team").filter(pk=incident_id).first()
    if incident is None:
        return 0
    people = sorted(
        set(
            Membership.objects.filter(team_id=incident.team_id, user__is_active=True)
            .exclude(user__email="")
            .values_list("user__email", flat=True)
        )
    )
    if not people:
        return 0
    path = reverse("incidents:incident_history", args=[incident.reference])
    body = render_to_string(
        "emails/postmortem_amended.txt",
        {"incident": incident, "version": version, "url": settings.SITE_URL + path},
    )
    subject = header_text(f"[Hindsight] {incident.reference} amended: {incident.title}", SUBJECT_LENGTH)
    # One message each: a member's address is not shown to the whole team.
    return send_mass_mail([(subject, body, None, [address]) for address in people])


def _check_confidentiality_change(incident: Incident, changes: Mapping[str, Any]) -> bool:
    """Whether `changes` opens a confidential near-miss, which then takes the next NM number.

    An open item cannot become confidential: it has been seen, listed and counted under its NM number, and
    taking that number away would leave the very gap that CNM numbering exists to avoid.
    """
    if "confidential" not in changes or bool(changes["confidential"]) == incident.confidential:
        return False
    if changes["confidential"]:
        raise ValidationError(
            {"confidential": f"{incident.reference} is open; an open item cannot later be made confidential."}
        )
    return True


def _related_slugs(incident: Incident, *, services=None, releases=None, causes=None) -> dict[str, str]:
    """The related sets about to change, as comparable text for the audit trail."""
    related = {}
    if services is not None:
        related["services"] = ", ".join(sorted(incident.services.values_list("slug", flat=True)))
    if releases is not None:
        related["releases"] = ", ".join(
            sorted(str(release) for release in incident.releases.select_related("service"))
        )
    if causes is not None:
        tags = incident.incident_causes.values_list("cause__slug", "gate")
        related["causes"] = ", ".join(sorted(f"{slug}@{gate}" if gate else slug for slug, gate in tags))
    return related


@transaction.atomic
def timeline_entry_add(*, actor: Viewer, incident: Incident, at: dt.datetime, text: str) -> Saved[TimelineEntry]:
    require(may_edit(actor, incident))
    redactions: Redactions = {}
    entry = TimelineEntry(
        incident=incident, at=at, text=_redact({"text": text}, into=redactions, policy_prefix="timeline.")["text"]
    )
    entry.full_clean()
    entry.save()
    audit_record(
        obj=incident,
        action="timeline entry added",
        changes={"timeline": [None, f"{at:%Y-%m-%d %H:%M} {entry.text}"]},
    )
    return Saved(entry, redactions)


def _timeline_change_check(actor: Viewer, incident: Incident, entry: TimelineEntry) -> None:
    require(may_edit(actor, incident))
    if entry.incident_id != incident.pk:
        raise ValidationError("That timeline entry belongs to another item.")


def _timeline_changed(
    *, incident: Incident, expected_version: int, author_id: int | None, before: str, after: str | None
) -> None:
    """A timeline change is a new version of the item: the version moves on (VersionConflict if someone saved
    meanwhile), the audit trail and a revision keep what the entry was and became."""
    _save_versioned(incident, {}, expected_version=expected_version)
    audit_record(obj=incident, action="timeline entry changed" if after else "timeline entry deleted",
                 changes={"timeline": [before, after]})  # fmt: skip
    note = f"Timeline entry “{before[:200]}” " + (f"changed to “{after[:60]}”." if after else "deleted.")
    # On a published postmortem this too is an amendment (as an edit of its text is, in incident_update).
    amended = incident.kind == Incident.Kind.INCIDENT and incident.status == Incident.Status.PUBLISHED
    if amended:
        note = f"{IncidentRevision.AMENDMENT_NOTE} {note}"
    incident_revision_record(incident=incident, author_id=author_id, note=note[:300])
    if amended:
        outbox_enqueue(handler="postmortem_amended", incident_id=incident.pk, version=incident.version)


@transaction.atomic
def timeline_entry_update(
    *,
    actor: Viewer,
    incident: Incident,
    entry: TimelineEntry,
    at: dt.datetime,
    text: str,
    expected_version: int,
    author_id: int | None = None,
) -> Saved[TimelineEntry]:
    """Change a timeline entry's time and text as `actor` (who may edit the item), if nobody saved the item since
    `expected_version`. Saving it unchanged changes nothing."""  # fmt: skip
    _timeline_change_check(actor, incident, entry)
    redactions: Redactions = {}
    text = _redact({"text": text}, into=redactions, policy_prefix="timeline.")["text"]
    before = entry.line
    entry.at, entry.text = at, text
    entry.full_clean()
    if entry.line == before:
        return Saved(entry, redactions)
    entry.save(update_fields=["at", "text"])
    _timeline_changed(incident=incident, expected_version=expected_version,
                      author_id=author_id or actor.user_id, before=before, after=entry.line)  # fmt: skip
    return Saved(entry, redactions)


@transaction.atomic
def timeline_entry_delete(
    *, actor: Viewer, incident: Incident, entry: TimelineEntry, expected_version: int, author_id: int | None = None
) -> None:
    """Delete a timeline entry as `actor` (who may edit the item), if nobody saved the item since
    `expected_version`; the revision it makes keeps the timeline as it was before, and the entry's text."""
    _timeline_change_check(actor, incident, entry)
    before = entry.line
    entry.delete()
    _timeline_changed(incident=incident, expected_version=expected_version,
                      author_id=author_id or actor.user_id, before=before, after=None)  # fmt: skip


def action_item_create(*, actor: Viewer, incident: Incident, **fields: Any) -> Saved[ActionItem]:
    """Add an action item to `incident` as `actor` (fields as _action_item_store)."""
    require(may_edit(actor, incident))
    return _action_item_store(incident=incident, **fields)


@transaction.atomic
def _action_item_store(
    *,
    incident: Incident,
    title: str,
    owner: User | None = None,
    team: Team | None = None,
    due_date: dt.date | None = None,
    cause: Cause | None = None,
    ticket_url: str = "",
) -> Saved[ActionItem]:
    redactions: Redactions = {}
    texts = _redact({"title": title, "ticket_url": ticket_url}, into=redactions, policy_prefix="action_item.")
    item = ActionItem(
        incident=incident,
        title=texts["title"],
        owner=owner,
        team=team,
        due_date=due_date,
        cause=cause,
        ticket_url=texts["ticket_url"],
    )
    item.full_clean()
    item.save()
    audit_record(obj=item, action="created", changes={"title": [None, item.title]})
    webhook_action_item_event(event_type=WebhookEventType.ACTION_ITEM_CREATED, action_item=item)
    return Saved(item, redactions)


def action_item_complete(
    *, actor: Viewer, action_item: ActionItem, status: str = ActionItem.Status.DONE, at: dt.datetime | None = None
) -> ActionItem:
    """Close an open action item as done or won't do. Closing an already closed item changes nothing."""
    require(may_complete(actor, action_item))
    if status not in (ActionItem.Status.DONE, ActionItem.Status.WONT_DO):
        raise ValidationError({"status": "An action item is closed as done or wont_do."})
    at = at or timezone.now()
    if at < action_item.created_at:
        raise ValidationError({"completed_at": "Cannot be before the item was created."})
    with transaction.atomic():
        closed = ActionItem.objects.filter(pk=action_item.pk, status=ActionItem.Status.OPEN).update(
            status=status, completed_at=at
        )
        if closed:
            audit_record(obj=action_item, action="closed", changes={"status": [ActionItem.Status.OPEN, status]})
            webhook_action_item_event(event_type=WebhookEventType.ACTION_ITEM_CLOSED, action_item=action_item)
    action_item.refresh_from_db(fields=["status", "completed_at"])
    return action_item


def action_item_update(*, actor: Viewer, action_item: ActionItem, changes: Mapping[str, Any]) -> Saved[ActionItem]:
    """Change an action item's details; closing goes through action_item_complete."""
    require(may_edit_action_item(actor, action_item))
    allowed = {"title", "owner", "team", "due_date", "cause", "ticket_url"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationError({name: "This field cannot be changed." for name in sorted(unknown)})
    redactions: Redactions = {}
    changes = dict(changes)
    texts = {name: changes[name] for name in ("title", "ticket_url") if name in changes}
    changes.update(_redact(texts, into=redactions, policy_prefix="action_item."))
    before = snapshot(action_item, changes)
    for name, value in changes.items():
        setattr(action_item, name, value)
    action_item.full_clean()
    with transaction.atomic():
        action_item.save(update_fields=list(changes))
        audit_record(obj=action_item, action="changed", changes=diff(before, snapshot(action_item, changes)))
    return Saved(action_item, redactions)


# Alertmanager severity label values, lower-cased, and the severity each means.


# --- Web app for people: postmortem revisions, status changes, triage -----------------------------------


def incident_revision_record(*, incident: Incident, author_id: int | None, note: str = "") -> IncidentRevision:
    """Keep the text of `incident` at its current version (every filing and every update, by any door, calls
    this, so the first version is never lost), with its timeline and a `note` of what changed when that is not
    the text. Confidential items keep no author."""
    timeline = TimelineEntry.objects.filter(incident=incident).order_by("at", "id")
    revision, _ = IncidentRevision.objects.update_or_create(
        incident=incident,
        version=incident.version,
        defaults={
            "author_id": None if incident.confidential else author_id,
            "title": incident.title,
            "summary": incident.summary,
            "trigger": incident.trigger,
            "body": incident.body,
            "status": incident.status,
            "timeline": "\n".join(entry.line for entry in timeline),
            "note": note,
        },
    )
    return revision


@transaction.atomic
def postmortem_create(*, actor: Viewer, author: User, team: Team, **fields: Any) -> Saved[Incident]:
    """Create an incident from the web editor (incident_create keeps its first revision)."""
    return incident_create(actor=actor, team=team, kind=Incident.Kind.INCIDENT, reporter=author, **fields)


@transaction.atomic
def postmortem_update(
    *, actor: Viewer, incident: Incident, editor: User, expected_version: int, **changes: Any
) -> Saved[Incident]:
    """incident_update from the web editor, the revision kept by the editor (VersionConflict as there)."""
    return incident_update(
        actor=actor, incident=incident, expected_version=expected_version, author_id=editor.pk, **changes
    )


@transaction.atomic
def triage_promote(
    *, actor: Viewer, incident: Incident, kind: str, expected_version: int, editor: User | None = None
) -> Incident:
    """Promote a triage item to a draft incident or near-miss, with a number of its new kind when it changes.

    1. Check the actor may triage it, it is still in triage and the kind is one we know.
    2. Reserve a number of the new kind (when the kind changes) inside this transaction.
    3. Write kind, number and status with an UPDATE conditioned on the version and the triage status.
    """
    require(may_triage(actor, incident))
    if kind not in Incident.Kind.values:
        raise ValidationError({"kind": f"Promote to one of {', '.join(Incident.Kind.values)}."})
    if incident.status != Incident.Status.TRIAGE:
        raise ValidationError({"status": f"{incident.reference} is not in triage any more."})
    if incident.confidential and kind != Incident.Kind.NEAR_MISS:
        raise ValidationError({"kind": "A confidential near-miss cannot become an incident."})
    columns: dict[str, Any] = {"status": Incident.Status.DRAFT}
    if kind != incident.kind:
        columns.update(kind=kind, number=_number_for(kind=kind, confidential=incident.confidential))
    if kind == Incident.Kind.INCIDENT and not incident.body.strip():
        columns.update(body=POSTMORTEM_TEMPLATE, body_html=render_markdown(POSTMORTEM_TEMPLATE))
    now = timezone.now()
    updated = Incident.objects.filter(
        pk=incident.pk, version=expected_version, status=Incident.Status.TRIAGE
    ).update(**columns, version=F("version") + 1, updated_at=now)
    if not updated:
        raise VersionConflict(Incident.objects.get(pk=incident.pk))
    before = {"reference": incident.reference, "status": incident.status}
    incident.refresh_from_db()
    incident_revision_record(incident=incident, author_id=editor.pk if editor else None)
    audit_record(
        obj=incident,
        action="promoted",
        changes=diff(before, {"reference": incident.reference, "status": incident.status}),
    )
    outbox_enqueue(handler="incident_filed", incident_id=incident.pk)
    chat_announce(incident=incident, post="incident_filed")
    webhook_incident_filed(incident=incident)
    return incident


@dataclass
class TriageOutcome:
    """What a bulk triage did: the items acted on, and those left alone (each with why)."""

    done: list[Incident] = field(default_factory=list)
    not_allowed: list[Incident] = field(default_factory=list)
    failed: list[tuple[Incident, str]] = field(default_factory=list)


def triage_bulk(*, actor: Viewer, incidents: Sequence[Incident], action: str, editor: User | None = None
                ) -> TriageOutcome:  # fmt: skip
    """Promote (`action` "incident" or "near_miss") or dismiss each of `incidents`, each in its own transaction:
    items the actor may not triage are skipped (never acted on), and one that someone handled meanwhile fails
    alone without undoing the others."""
    outcome = TriageOutcome()
    for incident in incidents:
        if not may_triage(actor, incident):
            outcome.not_allowed.append(incident)
            continue
        try:
            with transaction.atomic():
                if action == "dismiss":
                    if incident.status != Incident.Status.TRIAGE:
                        raise ValidationError("It is not in triage any more.")
                    incident_update(actor=actor, incident=incident, expected_version=incident.version,
                                    changes={"status": Incident.Status.DISMISSED},
                                    author_id=editor.pk if editor else None)  # fmt: skip
                else:
                    triage_promote(actor=actor, incident=incident, kind=action, expected_version=incident.version,
                                   editor=editor)  # fmt: skip
        except VersionConflict:
            outcome.failed.append((incident, "changed meanwhile"))
        except ValidationError as error:
            outcome.failed.append((incident, " ".join(error.messages)))
        else:
            outcome.done.append(incident)
    return outcome
