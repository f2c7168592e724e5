"""Importing postmortems kept elsewhere: what incidents/importing read becomes items of a team, through the same
writes as every other door (incident_create, incident_update: the policy, redaction, the audit trail).

Each item is recorded with source "import" (reserved: no tool may post under it) and an external id made of
the team's slug and the record's stable key (a file's path, a row's key column or hash), so that running the
same import again creates nothing, and a run whose --map now resolves more tags adds those causes to the items
already imported and changes nothing else. Each item is written in its own transaction: one that fails is
reported and the others are kept. A dry run does the same inside one transaction that is rolled back.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404

from incidents.importing import Parsed, Problem, Record
from incidents.limits import one_line
from incidents.models import Cause, Environment, Incident, Service, Team
from incidents.policies import (
    Viewer,
    may_file_for,
    may_file_published,
    not_writable_detail,
    require,
    service_writable_by,
)
from incidents.redaction import describe_redactions
from incidents.services.incidents import (
    CauseInput,
    TimelineInput,
    VersionConflict,
    incident_create,
    incident_update,
)
from incidents.services.tools import ALERT_SEVERITIES

IMPORT_SOURCE = "import"  # reserved in services.tools.RESERVED_SOURCES
IMPORT_STATUSES = (Incident.Status.DRAFT, Incident.Status.PUBLISHED)
# Whoever runs manage.py holds the database: the command acts as an admin, named in the audit trail by the
# label it runs under (acting_as), with no person as the reporter.
COMMAND_ACTOR = Viewer(user_id=None, team_ids=frozenset(), lead_team_ids=frozenset(), is_admin=True)
# Beyond the alert labels: Jira's priorities and the spellings postmortem templates use.
IMPORT_SEVERITIES = {
    **ALERT_SEVERITIES, "highest": Incident.Severity.SEV1, "blocker": Incident.Severity.SEV1,
    "sev0": Incident.Severity.SEV1, "p0": Incident.Severity.SEV1, "s1": Incident.Severity.SEV1,
    "s2": Incident.Severity.SEV2, "s3": Incident.Severity.SEV3, "s4": Incident.Severity.SEV4,
    "lowest": Incident.Severity.SEV4, "trivial": Incident.Severity.SEV4,
    **{str(level): f"sev{level}" for level in range(1, 5)},
}  # fmt: skip
KINDS = {"incident": Incident.Kind.INCIDENT, "postmortem": Incident.Kind.INCIDENT, "": Incident.Kind.INCIDENT,
         "near_miss": Incident.Kind.NEAR_MISS, "nearmiss": Incident.Kind.NEAR_MISS}  # fmt: skip


@dataclass(frozen=True)
class ImportedItem:
    where: str
    title: str
    reference: str = ""  # empty in a dry run: numbers are handed out when the item is really stored
    notes: tuple[str, ...] = ()


@dataclass
class ImportReport:
    dry_run: bool
    files_read: int = 0
    files_skipped: int = 0
    created: list[ImportedItem] = field(default_factory=list)
    already: list[ImportedItem] = field(default_factory=list)
    updated: list[ImportedItem] = field(default_factory=list)
    failed: list[Problem] = field(default_factory=list)
    unknown_tags: Counter[str] = field(default_factory=Counter)

    @property
    def unknown_tag_counts(self) -> list[tuple[str, int]]:
        """Each unknown tag (lower case) and how many items named it, by name."""
        return sorted(self.unknown_tags.items())

    def lines(self) -> list[str]:
        """The report as text, as the command prints it (the admin page shows the same)."""
        would = "would be " if self.dry_run else ""
        out = [f"{'Dry run: nothing was written. ' if self.dry_run else ''}{self.files_read} file(s) read"
               f"{f', {self.files_skipped} of no known format left aside' if self.files_skipped else ''}."]  # fmt: skip
        for label, items in (("created", self.created), ("updated (causes added)", self.updated),
                             ("already imported", self.already)):  # fmt: skip
            out.append(f"{len(items)} {would if label != 'already imported' else ''}{label}:")
            for item in items:
                out.append(f"  {item.where}: {item.reference + ' ' if item.reference else ''}{item.title}")
                out.extend(f"    - {note}" for note in item.notes)
        out.append(f"{len(self.failed)} failed:")
        out.extend(f"  {problem.where}: {problem.reason}" for problem in self.failed)
        if self.unknown_tags:
            out.append("Unknown tags (kept as text in the postmortem; map each with --map tag:NAME=CAUSE and run "
                       "again):")  # fmt: skip
            out.extend(f"  {tag} ({count})" for tag, count in self.unknown_tag_counts)
        return out


@dataclass
class _Catalogue:
    """What records name, looked up once per import: causes, services and environments by slug or name."""

    causes: dict[str, Cause]
    tag_map: dict[str, Cause | None]
    services: dict[str, Service]
    environments: dict[str, Environment]

    @classmethod
    def load(cls, tag_map: Mapping[str, str]) -> _Catalogue:
        causes: dict[str, Cause] = {}
        for cause in Cause.objects.filter(active=True):
            for name in (cause.slug, cause.name.lower(), cause.name.lower().replace(" ", "-")):
                causes.setdefault(name, cause)
        services: dict[str, Service] = {}
        for service in Service.objects.select_related("owner_team"):
            services.setdefault(service.slug.lower(), service)
            services.setdefault(service.name.lower(), service)
        environments: dict[str, Environment] = {}
        for environment in Environment.objects.order_by("promotion_order"):
            for name in (environment.slug, environment.name.lower(), environment.kind):
                environments.setdefault(name, environment)
        return cls(causes=causes, tag_map=_resolve_tag_map(tag_map, causes), services=services,
                   environments=environments)  # fmt: skip

    def cause_for(self, tag: str) -> tuple[Cause | None, bool]:
        """The cause a tag names and whether it is known (a tag mapped to nothing is known and dropped)."""
        name = tag.strip().lower()
        if name in self.tag_map:
            return self.tag_map[name], True
        found = self.causes.get(name) or self.causes.get(name.replace(" ", "-").replace("_", "-"))
        return found, found is not None


def _resolve_tag_map(tag_map: Mapping[str, str], causes: Mapping[str, Cause]) -> dict[str, Cause | None]:
    resolved: dict[str, Cause | None] = {}
    for tag, target in tag_map.items():
        if not target:
            resolved[tag] = None
            continue
        cause = causes.get(target.strip().lower())
        if cause is None:
            raise ValidationError({"map": f"tag:{tag}={target}: no active cause has this slug or name."})
        resolved[tag] = cause
    return resolved


def import_check(*, actor: Viewer, team: Team, status: str) -> None:
    """Whether `actor` may import into `team` with `status` (as filing would allow); raises NotAllowed."""
    if status not in IMPORT_STATUSES:
        raise ValidationError({"status": "Import as draft or published."})
    require(may_file_for(actor, team))
    require(may_file_published(actor, team, kind=Incident.Kind.INCIDENT, status=status))


def postmortems_import(
    *, actor: Viewer, team: Team, parsed: Parsed, tag_map: Mapping[str, str] | None = None,
    status: str = Incident.Status.DRAFT, dry_run: bool = False, announce: bool = False,
) -> ImportReport:  # fmt: skip
    """Store what `parsed` holds as items of `team`, as `actor`; returns what was created, found, updated and
    why the rest failed. ValidationError for a --map naming no cause; NotAllowed when the actor may not.
    New items are announced (leads' mail, chat, webhook events) only with `announce`: they are history."""
    import_check(actor=actor, team=team, status=status)
    catalogue = _Catalogue.load(tag_map or {})
    report = ImportReport(dry_run=dry_run, files_read=parsed.files_read, files_skipped=parsed.files_skipped,
                          failed=list(parsed.problems))  # fmt: skip
    with transaction.atomic() if dry_run else nullcontext():
        for record in parsed.records:
            _import_one(record, actor=actor, team=team, status=status, catalogue=catalogue, report=report,
                        announce=announce)  # fmt: skip
        if dry_run:
            transaction.set_rollback(True)
    return report


def external_id_for(team: Team, record: Record) -> str:
    """The team's slug and the record's key (at most 50 + 1 + KEY_MAX characters: within the column)."""
    return f"{team.slug}:{record.key}"


def _import_one(record: Record, *, actor: Viewer, team: Team, status: str, catalogue: _Catalogue,
                report: ImportReport, announce: bool) -> None:  # fmt: skip
    causes, unknown = _causes(record, catalogue)
    try:
        with transaction.atomic():
            external_id = external_id_for(team, record)
            existing = Incident.objects.filter(source=IMPORT_SOURCE, external_id=external_id).first()
            if existing is not None:
                bucket, item = _import_again(existing, record, actor=actor, team=team, causes=causes)
            else:
                item = _create(record, actor=actor, team=team, status=status, causes=causes, unknown=unknown,
                               catalogue=catalogue, dry_run=report.dry_run, announce=announce)  # fmt: skip
                bucket = "created"
            if report.dry_run:
                # Undone record by record: rolling back its savepoint also releases the row locks it took (the
                # number counters), so filings elsewhere do not wait for the whole dry run.
                transaction.set_rollback(True)
    except ValidationError as error:
        report.failed.append(Problem(record.where, _messages(error)))
        return
    except (PermissionDenied, Http404, VersionConflict, IntegrityError) as error:
        report.failed.append(Problem(record.where, str(error) or "Not allowed."))
        return
    report.unknown_tags.update(tag.lower() for tag in unknown)
    getattr(report, bucket).append(item)


def _import_again(existing: Incident, record: Record, *, actor: Viewer, team: Team, causes: Sequence[CauseInput]
                  ) -> tuple[str, ImportedItem]:  # fmt: skip
    """An item imported before: only causes that its tags now resolve to are added."""
    if existing.team_id != team.pk:
        raise ValidationError(f"Already imported as {existing.reference} for another team.")
    attached = list(existing.incident_causes.select_related("cause"))
    have = {link.cause_id for link in attached}
    added = [item for item in causes if item.cause.pk not in have]
    if not added:
        return "already", ImportedItem(record.where, existing.title, existing.reference)
    kept = [CauseInput(cause=link.cause, note=link.note, gate=link.gate) for link in attached]
    incident_update(actor=actor, incident=existing, expected_version=existing.version, causes=kept + added)
    note = "Causes added: " + ", ".join(item.cause.slug for item in added) + "."
    return "updated", ImportedItem(record.where, existing.title, existing.reference, (note,))


def _causes(record: Record, catalogue: _Catalogue) -> tuple[list[CauseInput], list[str]]:
    """The causes a record's tags name (each once), and the tags that name none."""
    causes: dict[int, CauseInput] = {}
    unknown: list[str] = []
    for tag in record.tags:
        cause, known = catalogue.cause_for(tag.name)
        if cause is not None:
            causes.setdefault(cause.pk, CauseInput(cause=cause, note=tag.note, gate=tag.gate))
        elif not known:
            unknown.append(tag.name)
    return list(causes.values()), list(dict.fromkeys(unknown))


def _create(record: Record, *, actor: Viewer, team: Team, status: str, causes: Sequence[CauseInput],
            unknown: Sequence[str], catalogue: _Catalogue, dry_run: bool, announce: bool) -> ImportedItem:  # fmt: skip
    if record.confidential:
        raise ValidationError("Confidential near-misses are not imported: their reporters are kept apart.")
    notes = list(record.warnings)
    kind = KINDS.get(record.kind.lower().replace("-", "_").replace(" ", "_"))
    if kind is None:
        notes.append(f"kind {record.kind!r} not understood; imported as an incident.")
        kind = Incident.Kind.INCIDENT
    services = _services(record, team=team, catalogue=catalogue, notes=notes)
    optional: dict[str, Any] = {
        "severity": _severity(record.severity, notes),
        "environment": _environment(record.environment, catalogue, notes),
        "caught_by": _caught_by(record.caught_by, notes),
        "detected_at": record.detected_at, "mitigated_at": record.mitigated_at, "resolved_at": record.resolved_at,
        "summary": record.summary, "trigger": record.trigger, "potential_impact": record.potential_impact,
    }  # fmt: skip
    saved = incident_create(
        actor=actor, team=team, kind=kind, title=record.title, status=status, services=services, causes=causes,
        timeline=[TimelineInput(at=at, text=text) for at, text in record.timeline],
        body=_body(record, unknown) or None, started_at=record.started_at, source=IMPORT_SOURCE,
        external_id=external_id_for(team, record), announce=announce, **{name: value for name, value in optional.items() if value},
    )  # fmt: skip
    if saved.redactions:
        notes.append(describe_redactions(saved.redactions))
    reference = "" if dry_run else saved.obj.reference
    return ImportedItem(record.where, saved.obj.title, reference, tuple(notes))


def _body(record: Record, unknown: Sequence[str]) -> str:
    """The postmortem, with what has no field of its own at its end: the original link and unknown tags."""
    footer = []
    if record.url:
        footer.append(f"Imported from: <{record.url}>")
    if unknown:
        footer.append("Imported tags: " + ", ".join(unknown))
    return "\n\n".join(part for part in (record.body.strip(), *footer) if part)


def _severity(raw: str, notes: list[str]) -> str:
    if not raw:
        return ""
    text = raw.strip().lower()
    for candidate in (text, text.replace(" ", "").replace("-", "").replace("_", ""), text.split()[0]):
        if candidate in IMPORT_SEVERITIES:
            return IMPORT_SEVERITIES[candidate]
    notes.append(f"severity {raw!r} not understood; left empty.")
    return ""


def _environment(raw: str, catalogue: _Catalogue, notes: list[str]) -> Environment | None:
    if not raw:
        return None
    found = catalogue.environments.get(raw.strip().lower())
    if found is None:
        notes.append(f"environment {raw!r} is not one of Hindsight's environments; left empty.")
    return found


def _caught_by(raw: str, notes: list[str]) -> str:
    if not raw:
        return ""
    for value, label in Incident.CaughtBy.choices:
        if raw.strip().lower() in (value, str(label).lower()):
            return value
    notes.append(f"caught_by {raw!r} not understood; left empty.")
    return ""


def _services(record: Record, *, team: Team, catalogue: _Catalogue, notes: list[str]) -> list[Service]:
    """The services named (by slug or name) that the team may write for; the others are noted, not attached."""
    chosen: dict[int, Service] = {}
    for name in record.services:
        service = catalogue.services.get(name.lower())
        if service is None:
            notes.append(f"service {one_line(name)!r} is not in the catalogue; left out.")
        elif not service_writable_by(team, service):
            notes.append(f"service left out: {not_writable_detail(team, service)}")
        else:
            chosen.setdefault(service.pk, service)
    return list(chosen.values())


def _messages(error: ValidationError) -> str:
    if hasattr(error, "error_dict"):
        return " ".join(f"{name}: {' '.join(messages)}" for name, messages in error.message_dict.items())
    return " ".join(error.messages)
