"""Every door through which text enters Hindsight, for the hostile-input checks (R2, R11).

Each door takes one value, puts it into every text field it has (all at once; when the door refuses the value in
its required title, once more with a plain title so that the other fields still get it) and reports, per field,
the HTTP status and the value stored, read back from the database, or None when the request was refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.test import Client
from django.utils import timezone

from incidents.limits import one_line
from incidents.models import ActionItem, Deployment, Environment, Incident, Release, TimelineEntry
from tests.api.conftest import Tool
from tests.factories import cause

PLAIN_TITLE = "Hostile input"


@dataclass(frozen=True)
class Outcome:
    door: str
    field: str
    status: int
    stored: str | None  # None: refused (or nothing stored)
    # What the door does to a value on purpose before storing it: forms and serializers trim surrounding
    # whitespace; keys are kept as sent; an alert's summary becomes a one-line title.
    shaped: Callable[[str], str] = str.strip


@dataclass
class Doors:
    """What the doors need: a write token and a signed-in member of its team, a service, a cause."""

    tool: Tool
    person: Client
    service_slug: str
    counter: int = 0

    def next_id(self) -> str:
        self.counter += 1
        return f"hostile-{self.counter}"


def _incident_by_ref(reference: str) -> Incident:
    prefix, number = reference.split("-")
    return Incident.objects.get(kind="incident" if prefix == "INC" else "near_miss", number=int(number))


def _with_title_fallback(send: Callable[[str], object], value: str):
    """Send with the value as title; when only the title is refused, again with a plain title."""
    response = send(value)
    if response.status_code == 400 and _errors_only_about_title(response):
        response = send(PLAIN_TITLE)
    return response


def _errors_only_about_title(response) -> bool:
    if response.get("Content-Type", "").startswith("application/json"):
        return set(response.json()) == {"title"}
    form = (response.context or {}).get("form") if response.context else None
    return form is not None and set(form.errors) == {"title"}


# --- The API ---------------------------------------------------------------------------------------------


def api_incident_create(doors: Doors, value: str) -> list[Outcome]:
    missing = cause("missing-check")

    def send(title: str):
        return doors.tool.post("/api/v1/incidents/", {
            "kind": "incident", "title": title, "summary": value, "potential_impact": value, "trigger": value,
            "body": value, "external_id": value, "timeline": [{"at": timezone.now().isoformat(), "text": value}],
            "causes": [{"cause": missing.slug, "note": value}],
        })  # fmt: skip

    response = _with_title_fallback(send, value)
    fields = (
        "title",
        "summary",
        "potential_impact",
        "trigger",
        "body",
        "external_id",
        "timeline.text",
        "cause.note",
    )
    if response.status_code not in (200, 201):
        return [Outcome("api incident create", name, response.status_code, None) for name in fields]
    incident = _incident_by_ref(response.json()["reference"])
    stored = {name: getattr(incident, name) for name in fields[:6]}
    stored["timeline.text"] = incident.timeline.get().text
    stored["cause.note"] = incident.incident_causes.get().note
    if stored["title"] == PLAIN_TITLE and value.strip() != PLAIN_TITLE:
        del stored["title"]
    return [Outcome("api incident create", name, response.status_code, text) for name, text in stored.items()]


def api_incident_update(doors: Doors, value: str, incident: Incident) -> list[Outcome]:
    incident.refresh_from_db()
    fields = ("title", "summary", "potential_impact", "trigger", "body")

    def send(title: str):
        return doors.tool.patch(
            f"/api/v1/incidents/{incident.reference}/",
            {"version": Incident.objects.get(pk=incident.pk).version, "title": title,
             **{name: value for name in fields[1:]}},
        )  # fmt: skip

    response = _with_title_fallback(send, value)
    if response.status_code != 200:
        return [Outcome("api incident update", name, response.status_code, None) for name in fields]
    incident.refresh_from_db()
    names = fields if incident.title != PLAIN_TITLE or value.strip() == PLAIN_TITLE else fields[1:]
    return [Outcome("api incident update", name, 200, getattr(incident, name)) for name in names]


def api_action_item(doors: Doors, value: str, incident: Incident, item: ActionItem) -> list[Outcome]:
    """Create an action item titled `value`, and retitle an existing one to `value`."""
    created = doors.tool.post("/api/v1/action-items/", {"incident": incident.reference, "title": value})
    stored = None
    if created.status_code == 201:
        row = ActionItem.objects.get(pk=created.json()["id"])
        stored = row.title
        row.delete()  # the incident keeps its size (see web_timeline_and_action_item)
    patched = doors.tool.patch(f"/api/v1/action-items/{item.pk}/", {"title": value})
    item.refresh_from_db()
    return [
        Outcome("api action item create", "title", created.status_code, stored),
        Outcome(
            "api action item update",
            "title",
            patched.status_code,
            item.title if patched.status_code == 200 else None,
        ),
    ]


def api_release_and_deployment(doors: Doors, value: str) -> list[Outcome]:
    release = doors.tool.post("/api/v1/releases/", {
        "service": doors.service_slug, "version": value, "artifact_digest": value, "commit_sha": value,
    })  # fmt: skip
    outcomes = []
    if release.status_code in (200, 201):
        row = Release.objects.get(pk=release.json()["id"])
        outcomes += [Outcome("api release", name, release.status_code, getattr(row, name))
                     for name in ("version", "artifact_digest", "commit_sha")]  # fmt: skip
    else:
        outcomes.append(Outcome("api release", "version", release.status_code, None))
    deployment = doors.tool.post("/api/v1/deployments/", {
        "service": doors.service_slug, "version": doors.next_id(), "environment": "prod", "status": "succeeded",
        "artifact_digest": value, "commit": value, "external_id": value, "gates": {value: "passed"},
    })  # fmt: skip
    if deployment.status_code in (200, 201):
        row = Deployment.objects.select_related("release").get(pk=deployment.json()["id"])
        outcomes += [
            Outcome("api deployment", "artifact_digest", deployment.status_code, row.release.artifact_digest),
            Outcome("api deployment", "external_id", deployment.status_code, row.external_id),
            Outcome("api deployment", "gates", deployment.status_code, next(iter(row.gates)), shaped=str),
        ]
    else:
        outcomes.append(Outcome("api deployment", "fields", deployment.status_code, None))
    return outcomes


def api_alertmanager(doors: Doors, value: str) -> list[Outcome]:
    body = {"version": "4", "status": "firing", "alerts": [{
        "status": "firing", "labels": {"alertname": "HostileAlert", "instance": value},
        "annotations": {"summary": value, "description": value}, "startsAt": timezone.now().isoformat(),
        "fingerprint": doors.next_id().replace("-", ""),
    }]}  # fmt: skip
    response = doors.tool.post("/api/v1/hooks/alertmanager/", body)
    created = response.json().get("created") if response.status_code == 200 else None
    title = _incident_by_ref(created[0]).title if created else None
    # The item is titled "alertname: summary" (at most 200 characters); an empty summary leaves the name alone.
    stored = None if title is None or len(title) >= 200 else title.removeprefix("HostileAlert").removeprefix(": ")
    return [Outcome("api alertmanager", "annotations.summary", response.status_code, stored, shaped=one_line)]


def api_search(doors: Doors, value: str) -> list[Outcome]:
    response = doors.tool.get("/api/v1/incidents/", {"q": value})
    return [Outcome("api search", "q", response.status_code, None)]


# --- The web forms ---------------------------------------------------------------------------------------


def web_near_miss(doors: Doors, value: str, team_id: int) -> list[Outcome]:
    staging = Environment.objects.get(slug="staging")

    def send(title: str):
        return doors.person.post("/near-misses/new/", {
            "title": title, "summary": value, "potential_impact": value, "environment": staging.pk,
            "caught_by": "code_review", "team": team_id,
        })  # fmt: skip

    response = _with_title_fallback(send, value)
    fields = ("title", "summary", "potential_impact")
    if response.status_code != 302:
        return [Outcome("web near-miss", name, response.status_code, None) for name in fields]
    incident = _incident_by_ref(response["Location"].rstrip("/").split("/")[-2])
    names = fields if incident.title != PLAIN_TITLE or value.strip() == PLAIN_TITLE else fields[1:]
    return [Outcome("web near-miss", name, 302, getattr(incident, name)) for name in names]


def _incident_form(title: str, value: str, **extra) -> dict:
    note = cause("weak-monitoring").pk
    return {
        "title": title, "severity": "sev3", "environment": Environment.objects.get(slug="prod").pk,
        "caught_by": "monitoring_alert", "started_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        "summary": value, "trigger": value, "body": value, f"cause_{note}": "on", f"note_{note}": value, **extra,
    }  # fmt: skip


def web_incident_create(doors: Doors, value: str, team_id: int) -> list[Outcome]:
    fields = ("title", "summary", "trigger", "body")
    response = _with_title_fallback(
        lambda t: doors.person.post("/incidents/new/", _incident_form(t, value, team=team_id)), value
    )
    if response.status_code != 302:
        return [
            Outcome("web incident create", name, response.status_code, None) for name in (*fields, "cause.note")
        ]
    incident = _incident_by_ref(response["Location"].rstrip("/").split("/")[-1])
    names = fields if incident.title != PLAIN_TITLE or value.strip() == PLAIN_TITLE else fields[1:]
    outcomes = [Outcome("web incident create", name, 302, getattr(incident, name)) for name in names]
    outcomes.append(Outcome("web incident create", "cause.note", 302, incident.incident_causes.get().note))
    return outcomes


def web_incident_edit(doors: Doors, value: str, incident: Incident) -> list[Outcome]:
    incident.refresh_from_db()
    fields = ("summary", "trigger", "body", "cause.note")
    edited = doors.person.post(f"/incidents/{incident.reference}/edit/",
                               _incident_form(incident.title, value, expected_version=incident.version))  # fmt: skip
    if edited.status_code != 302:
        return [Outcome("web incident edit", name, edited.status_code, None) for name in fields]
    incident.refresh_from_db()
    stored = [incident.summary, incident.trigger, incident.body, incident.incident_causes.get().note]
    return [Outcome("web incident edit", name, 302, text) for name, text in zip(fields, stored, strict=True)]


def web_timeline_and_action_item(doors: Doors, value: str, incident: Incident) -> list[Outcome]:
    at = timezone.localtime(incident.started_at).strftime("%Y-%m-%dT%H:%M")
    entries = TimelineEntry.objects.filter(incident=incident)
    before = set(entries.values_list("pk", flat=True))
    timeline = doors.person.post(
        f"/incidents/{incident.reference}/timeline/", {"timeline-at": at, "timeline-text": value}
    )
    added = entries.exclude(pk__in=before).first()
    items = ActionItem.objects.filter(incident=incident)
    before_items = set(items.values_list("pk", flat=True))
    action = doors.person.post(f"/incidents/{incident.reference}/action-items/", {"action-title": value})
    added_item = items.exclude(pk__in=before_items).first()
    outcomes = [
        Outcome("web timeline", "text", timeline.status_code, added.text if added else None),
        Outcome("web action item", "title", action.status_code, added_item.title if added_item else None),
    ]
    # The shared incident keeps its size: every door reads it whole, so rows left behind would make each value
    # cost more than the one before.
    entries.exclude(pk__in=before).delete()
    items.exclude(pk__in=before_items).delete()
    return outcomes


def web_reads(doors: Doors, value: str) -> list[Outcome]:
    """Text that is only read, never stored: search, the similar-incidents panel, the preview."""
    return [
        Outcome("web search", "q", doors.person.get("/incidents/", {"q": value}).status_code, None),
        Outcome(
            "web similar", "title", doors.person.get("/incidents/similar/", {"title": value}).status_code, None
        ),
        Outcome(
            "web preview", "body", doors.person.post("/incidents/preview/", {"body": value}).status_code, None
        ),
    ]
