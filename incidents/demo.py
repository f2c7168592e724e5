"""Deterministic synthetic data in the shape of a real organisation, for demos, development and benchmarks.

The same seed, starting point and arguments always give the same rows. Base data (teams, people, services)
is matched by slug or username, so a second run adds incidents and releases without duplicating them.
Rows are written with bulk inserts: 100,000 incidents load in well under a minute on SQLite.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from incidents.bulk import insert_rows, reserve_ids
from incidents.markdown import render_markdown
from incidents.models import (
    ActionItem,
    Cause,
    ConfidentialReporter,
    Deployment,
    Environment,
    Incident,
    IncidentCause,
    Membership,
    Release,
    Service,
    Team,
    TimelineEntry,
    random_action_item_id,
)
from incidents.services import incident_numbers_reserve
from incidents.services.reports import report_generate, report_scopes
from incidents.weeks import Week

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo"  # noqa: S105 - a published demo login, set only by seed_demo
DEMO_REPORT_WEEKS = 4  # the recent weeks whose trend reports seed_demo generates
BATCH = 5000

TEAMS = [
    ("Payments", "payments", ["checkout-api", "ledger", "payment-gateway"]),
    ("Platform", "platform", ["auth-service", "api-gateway", "job-runner"]),
    ("Data", "data", ["events-pipeline", "warehouse-sync"]),
    ("Growth", "growth", ["web-frontend", "notifications"]),
    ("Mobile", "mobile", ["mobile-backend"]),
]
UNOWNED_SERVICES = ["legacy-reports", "shared-cron"]
PEOPLE = [
    "alice", "bilal", "chen", "dara", "emeka", "farah", "gustav", "hana", "ines", "jonas", "kiri", "lena",
    "mateo", "nadia", "oskar", "priya", "quinn", "rosa", "sami", "tomas", "uma", "viktor", "wen", "yusuf",
    "zoe",
]  # fmt: skip

# Real-life skew: a few causes explain most problems.
CAUSE_WEIGHTS = {
    "missing-check": 25, "weak-monitoring": 18, "config-drift": 12, "environment-parity-gap": 10,
    "unclear-ownership": 8, "untested-rollback": 6, "manual-change": 6, "dependency-failure": 5,
    "capacity-limit": 4, "alert-fatigue": 3, "documentation-gap": 3, "secret-handling": 2,
    "unsafe-data-handling": 1,
}  # fmt: skip
CAUSE_GATE = {
    "missing-check": "ci", "weak-monitoring": "prod-monitoring", "config-drift": "staging",
    "environment-parity-gap": "staging", "unclear-ownership": "review", "untested-rollback": "canary",
    "manual-change": "review", "dependency-failure": "canary", "capacity-limit": "staging",
    "alert-fatigue": "prod-monitoring", "documentation-gap": "review", "secret-handling": "ci",
    "unsafe-data-handling": "review",
}  # fmt: skip
# Near-misses are mostly caught early; incidents mostly in production.
CAUGHT_IN = {"near_miss": {"dev": 45, "staging": 40, "prod": 15}, "incident": {"staging": 12, "prod": 88}}
CAUGHT_BY = {
    "near_miss": {
        "automated_check": 35,
        "code_review": 20,
        "manual_testing": 20,
        "monitoring_alert": 15,
        "luck": 10,
    },
    "incident": {
        "monitoring_alert": 55,
        "customer_report": 25,
        "luck": 8,
        "automated_check": 6,
        "manual_testing": 6,
    },
}
SEVERITY = {
    "near_miss": {"sev1": 8, "sev2": 22, "sev3": 40, "sev4": 30},
    "incident": {"sev1": 4, "sev2": 16, "sev3": 42, "sev4": 38},
}
INCIDENT_STATUS = {"published": 70, "in_review": 10, "draft": 12, "triage": 5, "dismissed": 3}
SYMPTOMS = [
    "connection pool exhausted", "stale config served after deploy", "migration locked a hot table",
    "certificate expired", "queue backlog grew for hours", "feature flag enabled for everyone",
    "retry storm against a dependency", "disk filled with debug logs", "cache stampede after restart",
    "wrong secret mounted", "timeouts from an upstream API", "cron job ran twice", "test data leaked into logs",
    "rollback script failed", "alert fired but nobody looked", "schema change broke consumers",
]  # fmt: skip
GATES = ["unit-tests", "integration-tests", "security-scan", "canary"]


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


@dataclass
class DemoResult:
    incidents: int = 0
    near_misses: int = 0
    releases: int = 0
    deployments: int = 0
    action_items: int = 0
    teams: int = 0
    services: int = 0
    users: int = 0


@dataclass
class _World:
    teams: list[Team]
    members: dict[int, list]  # team id → users
    services: list[Service]
    team_services: dict[int, list[Service]]
    environments: dict[str, Environment]
    causes: dict[str, Cause]
    prod_releases: dict[int, tuple[list[dt.datetime], list[int]]] = field(default_factory=dict)


ACRONYMS = {"api": "API", "ci": "CI"}


def service_name(slug: str) -> str:
    """A readable name for a demo service slug: "checkout-api" is "Checkout API"."""
    return " ".join(ACRONYMS.get(word, word.capitalize()) for word in slug.split("-"))


def seed_demo(*, incidents: int, weeks: int, seed: int, now: dt.datetime | None = None) -> DemoResult:
    """Load demo data: base data once, then `incidents` items spread over the last `weeks` weeks."""
    if incidents < 0 or weeks < 1:
        raise ValueError("incidents must be ≥ 0 and weeks ≥ 1")
    now = (now or timezone.now()).replace(minute=0, second=0, microsecond=0)
    rng = random.Random(seed)  # deterministic demo data, not security  # nosec B311
    result = DemoResult()
    with transaction.atomic():
        world = _base_data(result)
        _releases(world, rng, now=now, weeks=weeks, result=result)
        _incidents(world, rng, now=now, weeks=weeks, count=incidents, result=result)
    return result


def seed_demo_reports(*, weeks: int = DEMO_REPORT_WEEKS, now: dt.datetime | None = None) -> int:
    """Generate the trend reports of the last `weeks` complete weeks, for every scope a weekly run generates
    (the organisation and each team, each of both audiences), through the same service as the weekly run
    (services.reports.report_generate). Returns how many (week, scope) pairs were generated."""
    if weeks < 0:
        raise ValueError("weeks must be ≥ 0")
    last = Week.containing(timezone.localdate(now)).shifted(-1)
    scopes = report_scopes()
    with transaction.atomic():  # one commit, not one per report and audience: nobody watches these progress
        for week in last.window(weeks) if weeks else []:
            for team in scopes:
                report_generate(week=week, team=team)
    return weeks * len(scopes)


def _base_data(result: DemoResult) -> _World:
    User = get_user_model()
    password = make_password(DEMO_PASSWORD)
    members: dict[int, list] = {}  # team id → users
    teams, team_services, services = [], {}, []
    people = iter(PEOPLE)
    for index, (name, slug, service_slugs) in enumerate(TEAMS):
        team, created = Team.objects.get_or_create(slug=slug, defaults={"name": name})
        result.teams += created
        teams.append(team)
        usernames = [DEMO_USERNAME] if index == 0 else []
        usernames += [next(people) for _ in range(5 if index == 0 else 4)]
        members[team.pk] = []
        for position, username in enumerate(usernames):
            user, created = User.objects.get_or_create(
                username=username,
                defaults={
                    "email": f"{username}@example.com",
                    "password": password,
                    "first_name": username.title(),
                },
            )
            if created and username == DEMO_USERNAME:
                user.is_staff = user.is_superuser = True
                user.save(update_fields=["is_staff", "is_superuser"])
            result.users += created
            role = (
                Membership.Role.LEAD if position == 0 or (index == 0 and position == 1) else Membership.Role.MEMBER
            )
            Membership.objects.get_or_create(user=user, team=team, defaults={"role": role})
            members[team.pk].append(user)
        team_services[team.pk] = [_service(slug, team, result) for slug in service_slugs]
        services += team_services[team.pk]
    services += [_service(slug, None, result) for slug in UNOWNED_SERVICES]
    return _World(
        teams=teams, members=members, services=services, team_services=team_services,
        environments={env.slug: env for env in Environment.objects.all()},
        causes={cause.slug: cause for cause in Cause.objects.filter(slug__in=CAUSE_WEIGHTS)},
    )  # fmt: skip


def _service(slug: str, team: Team | None, result: DemoResult) -> Service:
    service, created = Service.objects.get_or_create(
        slug=slug, defaults={"name": service_name(slug), "owner_team": team}
    )
    result.services += created
    return service


def _releases(world: _World, rng: random.Random, *, now: dt.datetime, weeks: int, result: DemoResult) -> None:
    """Each service ships a release every few days: dev, then staging, then prod, gated, some rolled back."""
    start = now - dt.timedelta(weeks=weeks)
    existing = {service_id: count for service_id, count in _release_counts()}
    releases, plans = [], []
    for service in world.services:
        at, serial = start, existing.get(service.pk, 0)
        while True:
            at += dt.timedelta(hours=rng.uniform(24, 120))
            if at >= now:
                break
            serial += 1
            version = f"{serial // 20 + 1}.{serial % 20}.{rng.randint(0, 3)}"
            releases.append(Release(
                service=service, version=version, created_at=at, commit_sha=f"{rng.getrandbits(160):040x}",
                artifact_digest=f"sha256:{rng.getrandbits(256):064x}",
            ))  # fmt: skip
            plans.append(at)
    Release.objects.bulk_create(releases, batch_size=BATCH)
    result.releases += len(releases)

    deployments = []
    for release, at in zip(releases, plans, strict=True):
        for env_slug in ("dev", "staging", "prod"):
            at += dt.timedelta(hours=rng.uniform(1, 30))
            if at >= now:
                break
            deployment = _deployment(rng, release, world.environments[env_slug], at)
            deployments.append(deployment)
            if deployment.status != Deployment.Status.SUCCEEDED:
                break
            if env_slug == "prod":
                times, ids = world.prod_releases.setdefault(release.service_id, ([], []))
                times.append(at)
                ids.append(release.pk)
    Deployment.objects.bulk_create(deployments, batch_size=BATCH)
    result.deployments += len(deployments)
    for times, ids in world.prod_releases.values():
        order = sorted(range(len(times)), key=times.__getitem__)
        times[:], ids[:] = [times[i] for i in order], [ids[i] for i in order]


def _release_counts() -> Iterator[tuple[int, int]]:
    yield from Release.objects.values("service_id").annotate(n=Count("id")).values_list("service_id", "n")


def _deployment(rng: random.Random, release: Release, environment: Environment, at: dt.datetime) -> Deployment:
    gates = {gate: "passed" for gate in GATES}
    roll = rng.random()
    status = Deployment.Status.SUCCEEDED
    if roll < 0.04:
        gates[rng.choice(GATES[:3])] = "failed"
        status = Deployment.Status.FAILED
    elif roll < 0.09:
        status = Deployment.Status.ROLLED_BACK
    elif roll < 0.2:
        gates[rng.choice(GATES)] = "skipped"
    if environment.slug != "prod":
        gates.pop("canary")
    return Deployment(
        release=release, environment=environment, status=status, deployed_at=at, gates=gates,
        rollback_rehearsed=rng.random() < (0.7 if environment.slug == "staging" else 0.4), created_at=at,
    )  # fmt: skip


def _bodies() -> dict[str, tuple[str, str]]:
    """One postmortem text per symptom, rendered once (Markdown and its HTML)."""
    bodies = {}
    for symptom in SYMPTOMS:
        body = (
            f"## Impact\n\n{symptom.capitalize()}: some requests failed for part of the window; no data was lost.\n\n"
            "## Contributing factors\n\nThe check that would have caught this did not exist, "
            "and the dashboard hid the error rate behind an average.\n\n"
            "## What went well\n\n- The rollback was quick.\n- The alert reached the right team.\n\n"
            "## Where we got lucky\n\nIt happened during working hours.\n"
        )
        bodies[symptom] = (body, render_markdown(body))
    return bodies


def _lognormal_seconds(rng: random.Random, median_minutes: float, sigma: float = 1.0) -> dt.timedelta:
    return dt.timedelta(seconds=int(60 * median_minutes * math.exp(rng.gauss(0, sigma))) + 1)


INCIDENT_COLUMNS = (
    "id", "kind", "number", "title", "team_id", "status", "summary", "potential_impact", "trigger", "severity",
    "environment_id", "caught_by", "started_at", "detected_at", "mitigated_at", "resolved_at", "body",
    "body_html", "reporter_id", "confidential", "source", "external_id", "version", "created_at", "updated_at",
)  # fmt: skip


@dataclass
class _Links:
    """Rows that hang off a batch of incidents, gathered as plain tuples."""

    services: list[tuple] = field(default_factory=list)
    releases: list[tuple] = field(default_factory=list)
    causes: list[tuple] = field(default_factory=list)
    timeline: list[tuple] = field(default_factory=list)
    action_items: list[tuple] = field(default_factory=list)
    receipts: list[ConfidentialReporter] = field(default_factory=list)


def _incidents(
    world: _World, rng: random.Random, *, now: dt.datetime, weeks: int, count: int, result: DemoResult
) -> None:
    bodies = _bodies()
    span = weeks * 7 * 24 * 3600
    plans = []
    for _ in range(count):
        kind = "near_miss" if rng.random() < 0.64 else "incident"
        started_at = now - dt.timedelta(seconds=rng.randrange(span))
        plans.append((kind, started_at, kind == "near_miss" and rng.random() < 0.03))
    # Confidential near-misses are numbered in their own sequence (CNM-n), so NM-n has no gaps.
    sequences = [Incident.number_sequence(kind=kind, confidential=secret) for kind, _, secret in plans]
    next_number = {
        sequence: incident_numbers_reserve(kind=sequence, count=sequences.count(sequence))
        for sequence in sorted(set(sequences))
    }
    ids = iter(reserve_ids(Incident, count))
    for offset in range(0, count, BATCH):
        rows, links = [], _Links()
        for (kind, started_at, secret), sequence in zip(
            plans[offset : offset + BATCH], sequences[offset : offset + BATCH], strict=True
        ):
            number = next_number[sequence]
            next_number[sequence] += 1
            rows.append(_incident(world, rng, next(ids), (kind, secret), number, started_at, now, bodies, links))
        insert_rows(Incident, INCIDENT_COLUMNS, rows)
        _store_links(links)
        result.incidents += sum(1 for row in rows if row[1] == "incident")
        result.near_misses += sum(1 for row in rows if row[1] == "near_miss")
        result.action_items += len(links.action_items)


def _incident(world, rng, pk, planned, number, started_at, now, bodies, links: _Links) -> tuple:
    kind, confidential = planned
    team = rng.choice(world.teams)
    service = rng.choice(world.team_services[team.pk]) if rng.random() < 0.85 else rng.choice(world.services)
    environment = world.environments[_weighted(rng, CAUGHT_IN[kind])]
    symptom = rng.choice(SYMPTOMS)
    status = "published" if kind == "near_miss" else _weighted(rng, INCIDENT_STATUS)
    if kind == "near_miss" and rng.random() < 0.07:
        status = rng.choice(["triage", "dismissed"])
    detected = started_at + _lognormal_seconds(rng, 20 if kind == "incident" else 5)
    mitigated = detected + _lognormal_seconds(rng, 45) if kind == "incident" else None
    resolved = (mitigated or detected) + _lognormal_seconds(rng, 120)
    if detected > now:
        detected = mitigated = resolved = None
    elif mitigated and mitigated > now:
        mitigated = resolved = None
    elif resolved > now:
        resolved = None
    reporter = rng.choice(world.members[team.pk])
    body, body_html = bodies[symptom] if kind == "incident" else ("", "")
    potential_impact = "Customers would have seen errors at checkout." if kind == "near_miss" else ""
    summary = f"{symptom.capitalize()} on {service.name} in {environment.name.lower()}."
    causes = sorted(
        set(rng.choices(list(CAUSE_WEIGHTS), weights=list(CAUSE_WEIGHTS.values()), k=rng.randint(1, 3)))
    )

    links.services.append((pk, service.pk))
    release_id = _suspect_release(world, service, started_at) if environment.slug == "prod" else None
    if release_id and rng.random() < 0.7:
        links.releases.append((pk, release_id))
    for slug in causes:
        gate = CAUSE_GATE[slug] if rng.random() < 0.8 else rng.choice(sorted(set(CAUSE_GATE.values())))
        links.causes.append((pk, world.causes[slug].pk, "", gate))
    if kind == "incident":
        links.timeline += [(pk, at, text) for at, text in zip(
            (started_at, detected, mitigated, resolved), TIMELINE_TEXTS, strict=True) if at]  # fmt: skip
    if status not in ("triage", "dismissed"):
        links.action_items += _action_items(world, rng, pk, kind, team, service, causes, started_at, now)
    if confidential:
        links.receipts.append(ConfidentialReporter(
            incident_id=pk, user=reporter, receipt_hash=f"{rng.getrandbits(256):064x}", created_at=started_at,
        ))  # fmt: skip
    return (
        pk, kind, number, f"{service.slug}: {symptom}", team.pk, status, summary, potential_impact, "",
        _weighted(rng, SEVERITY[kind]), environment.pk, _weighted(rng, CAUGHT_BY[kind]), started_at, detected,
        mitigated, resolved, body, body_html, None if confidential else reporter.pk, confidential, "demo", "", 1,
        started_at, started_at,
    )  # fmt: skip


TIMELINE_TEXTS = (
    "Change rolled out; errors start.",
    "Alert fires; on-call acknowledges.",
    "Rolled back; error rate returns to normal.",
    "Fix verified; incident resolved.",
)


def _suspect_release(world: _World, service: Service, started_at: dt.datetime) -> int | None:
    times, ids = world.prod_releases.get(service.pk, ([], []))
    position = bisect.bisect_right(times, started_at)
    return ids[position - 1] if position else None


def _store_links(links: _Links) -> None:
    insert_rows(Incident.services.through, ("incident_id", "service_id"), links.services)
    insert_rows(Incident.releases.through, ("incident_id", "release_id"), links.releases)
    insert_rows(IncidentCause, ("incident_id", "cause_id", "note", "gate"), links.causes)
    insert_rows(TimelineEntry, ("incident_id", "at", "text"), links.timeline)
    insert_rows(ActionItem, ACTION_ITEM_COLUMNS, links.action_items)
    ConfidentialReporter.objects.bulk_create(links.receipts)


ACTION_ITEM_COLUMNS = (
    "id", "incident_id", "title", "owner_id", "team_id", "due_date", "status", "cause_id", "ticket_url", "created_at",
    "completed_at",
)  # fmt: skip


def _action_items(world, rng, pk, kind, team, service, causes, started_at, now) -> list[tuple]:
    wanted = rng.randint(1, 3) if kind == "incident" else int(rng.random() < 0.35)
    items = []
    for index in range(wanted):
        created = started_at + dt.timedelta(hours=rng.uniform(1, 72))
        if created > now:
            continue
        due = (created + dt.timedelta(days=rng.randint(7, 60))).date()
        owner_roll = rng.random()
        owner_id = rng.choice(world.members[team.pk]).pk if owner_roll < 0.8 else None
        team_id = team.pk if owner_roll < 0.93 else None
        status, completed = "open", None
        finish = created + dt.timedelta(days=rng.uniform(2, 75))
        if finish <= now and rng.random() < 0.8:
            status, completed = ("done" if rng.random() < 0.9 else "wont_do"), finish
        slug = causes[index % len(causes)]
        title = f"Add a safeguard against {slug.replace('-', ' ')} on {service.slug}"
        items.append(
            (
                random_action_item_id(),
                pk,
                title,
                owner_id,
                team_id,
                due,
                status,
                world.causes[slug].pk,
                "",
                created,
                completed,
            )
        )
    return items
