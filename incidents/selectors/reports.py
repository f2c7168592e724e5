"""Reads behind the weekly trend report: every number is aggregated in the database.

The numbers follow the definitions in docs/design.md literally; where it leaves a choice open, the choice is written
beside the query that makes it and in docs/reports.md. Python only shapes the aggregated rows into the report's
JSON (13 week buckets, the cause list, the severities).

Every report is computed for an audience. The "everyone" report is computed as if confidential near-misses
did not exist at all (nor their causes, services or action items); the "confidential" one includes them. The
choice is made in the building blocks alone (`_items_q`, `_items`, `_action_items`), never per section, so that
no section can forget it.

Percentiles use the nearest-rank definition: the p-th percentile of N ordered values is the value at rank
ceil(p x N) (1-based), so the median of 4 values is the 2nd and the p90 of 10 values the 9th. It always picks a
real duration, which makes SQLite and PostgreSQL agree to the microsecond; the rank is found with the window
functions ROW_NUMBER() and COUNT() OVER (PARTITION BY severity), which both databases run.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from fractions import Fraction
from typing import Any

from django.conf import settings
from django.db.models import (
    Case,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce, RowNumber
from django.urls import reverse
from django.utils import timezone

from incidents.models import (
    ActionItem,
    Cause,
    Deployment,
    Environment,
    Incident,
    IncidentCause,
    Service,
    Team,
    TrendReport,
)
from incidents.policies import Viewer
from incidents.report_summary import Labels
from incidents.weeks import Week

EVERYONE, CONFIDENTIAL = TrendReport.Audience.EVERYONE, TrendReport.Audience.CONFIDENTIAL
SEVERITIES = tuple(Incident.Severity.values)
TOP_CAUSES = 5
MEDIAN, P90 = Fraction(1, 2), Fraction(9, 10)
ARCHIVE_YEAR_WEEKS = 52


# ---------------------------------------------------------------------------------------------------------
# Building blocks


def scope_of(team: Team | None) -> str:
    return f"team:{team.slug}" if team else TrendReport.ORGANISATION


def _audience_q(prefix: str, audience: str, team: Team | None) -> Q:
    """The items an audience's report knows of: for "everyone", none of the confidential near-misses; for a
    team's "confidential" report (its leads), that team's own and no other team's, even where an item of its
    report reaches another team's (an action item it owns, an earlier fix); for the organisation's (admins),
    all of them."""
    public = Q(**{f"{prefix}confidential": False})
    if audience == EVERYONE:
        return public
    if audience != CONFIDENTIAL:
        raise ValueError(f"Unknown report audience {audience!r}")
    return Q() if team is None else public | Q(**{f"{prefix}team": team})


def _items_q(prefix: str, *, team: Team | None, start: dt.datetime, end: dt.datetime, audience: str) -> Q:
    """Counted items (neither in triage nor dismissed) of the scope and audience that started in [start, end)."""
    condition = Q(**{f"{prefix}started_at__gte": start, f"{prefix}started_at__lt": end}) & ~Q(
        **{f"{prefix}status__in": Incident.UNCOUNTED_STATUSES}
    )
    if team is not None:
        condition &= Q(**{f"{prefix}team": team})
    return condition & _audience_q(prefix, audience, team)


def _items(*, team: Team | None, start: dt.datetime, end: dt.datetime, audience: str) -> QuerySet[Incident]:
    return Incident.objects.filter(_items_q("", team=team, start=start, end=end, audience=audience)).order_by()


def _action_items(*, audience: str, team: Team | None) -> QuerySet[ActionItem]:
    """The action items an audience's report knows of: none of a confidential near-miss the audience may not
    see (_audience_q).

    The confidential items are few and indexed (incident_confidential_idx), so the anti-join reads little.
    """
    items = ActionItem.objects.order_by()
    if audience == CONFIDENTIAL and team is None:
        return items
    hidden = Incident.objects.filter(pk=OuterRef("incident_id")).exclude(_audience_q("", audience, team))
    return items.filter(~Exists(hidden))


def _week_bucket(field: str, weeks: list[Week]) -> Case:
    """The index (0 = oldest) of the week that holds `field`, for rows already limited to the window."""
    return Case(
        *(When(**{f"{field}__lt": week.end}, then=Value(index)) for index, week in enumerate(weeks)),
        default=None,
        output_field=IntegerField(),
    )


def _ratio(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 4)


# ---------------------------------------------------------------------------------------------------------
# The report's sections


def trend_counts(*, weeks: list[Week], team: Team | None, audience: str) -> dict[str, Any]:
    """Incidents per severity and near-misses for each of the weeks, and the near-miss share."""
    rows = (
        _items(team=team, start=weeks[0].start, end=weeks[-1].end, audience=audience)
        .annotate(bucket=_week_bucket("started_at", weeks))
        .values("bucket", "kind", "severity")
        .annotate(count=Count("id"))
    )
    by_severity = {severity: [0] * len(weeks) for severity in SEVERITIES}
    incidents, near_misses = [0] * len(weeks), [0] * len(weeks)
    for row in rows:  # at most 13 buckets x 2 kinds x 5 severities
        if row["kind"] == Incident.Kind.NEAR_MISS:
            near_misses[row["bucket"]] += row["count"]
            continue
        incidents[row["bucket"]] += row["count"]
        if row["severity"] in by_severity:
            by_severity[row["severity"]][row["bucket"]] += row["count"]
    return {
        "incidents": by_severity,
        "near_misses": near_misses,
        "near_miss_share": [_ratio(nm, nm + inc) for nm, inc in zip(near_misses, incidents, strict=True)],
    }


def trend_causes(*, weeks: list[Week], team: Team | None, audience: str) -> dict[str, Any]:
    """Items per cause per week (causes seen in the window), this week's top causes and the rising ones.

    Rising: at least 2 this week and at least twice the weekly average of the weeks before (compared as
    12 x this week ≥ 2 x their total, in whole numbers).
    """
    rows = (
        IncidentCause.objects.filter(
            _items_q("incident__", team=team, start=weeks[0].start, end=weeks[-1].end, audience=audience)
        )
        .annotate(bucket=_week_bucket("incident__started_at", weeks))
        .values("bucket", "cause__slug")
        .annotate(count=Count("incident_id", distinct=True))
        .order_by()
    )
    per_week: dict[str, list[int]] = defaultdict(lambda: [0] * len(weeks))
    for row in rows:
        per_week[row["cause__slug"]][row["bucket"]] = row["count"]
    this_week = {slug: counts[-1] for slug, counts in per_week.items() if counts[-1]}
    top = sorted(this_week.items(), key=lambda item: (-item[1], item[0]))[:TOP_CAUSES]
    before = len(weeks) - 1
    rising = [
        slug
        for slug, count in sorted(this_week.items(), key=lambda item: (-item[1], item[0]))
        if count >= 2 and count * before >= 2 * sum(per_week[slug][:-1])
    ]
    return {
        "per_week": dict(sorted(per_week.items())),
        "top": [{"cause": slug, "count": count} for slug, count in top],
        "rising": rising,
    }


def trend_environments(*, week: Week, team: Team | None, audience: str) -> dict[str, Any]:
    """Where the week's items were caught (every environment, in promotion order) and the prod escape rate.

    The week's items are grouped by environment in one query bounded to the week (a join from every
    environment would read the whole history); the few groups are then laid out per environment.
    """
    environments = list(Environment.objects.order_by("promotion_order").values_list("id", "slug", "kind"))
    grouped = dict(
        _items(team=team, start=week.start, end=week.end, audience=audience)
        .values("environment_id")
        .annotate(count=Count("id"))
        .values_list("environment_id", "count")
    )
    caught_in = {slug: grouped.get(pk, 0) for pk, slug, _ in environments}
    production = {pk for pk, _, kind in environments if kind == Environment.Kind.PRODUCTION}
    known = sum(count for pk, count in grouped.items() if pk is not None)
    escaped = sum(count for pk, count in grouped.items() if pk in production)
    return {"caught_in": caught_in, "escape_rate": _ratio(escaped, known)}


def trend_deployments(*, week: Week, team: Team | None, audience: str) -> dict[str, Any]:
    """Deployments of the week (all statuses) per environment, change failure rate and rollbacks.

    A team's deployments are those of releases of the services it owns. Deployments are never confidential;
    only the incidents that make a change a failure are limited to the audience's.
    """
    deployments = Deployment.objects.filter(deployed_at__gte=week.start, deployed_at__lt=week.end).order_by()
    if team is not None:
        deployments = deployments.filter(release__service__owner_team=team)
    # Grouped within the week, then laid out per environment (a join from every environment reads all history).
    counts = dict(
        deployments.values("environment_id").annotate(count=Count("id")).values_list("environment_id", "count")
    )
    per_environment = {
        slug: counts.get(pk, 0)
        for pk, slug in Environment.objects.order_by("promotion_order").values_list("id", "slug")
    }
    named_by_incident = (
        Incident.releases.through.objects.filter(release_id=OuterRef("release_id"), incident__kind="incident")
        .filter(_audience_q("incident__", audience, team))
        .exclude(incident__status__in=Incident.UNCOUNTED_STATUSES)
        .values("id")
    )
    prod_succeeded = Q(status=Deployment.Status.SUCCEEDED, environment__kind=Environment.Kind.PRODUCTION)
    totals = deployments.annotate(failed_change=Exists(named_by_incident)).aggregate(
        prod=Count("id", filter=prod_succeeded),
        prod_failed=Count("id", filter=prod_succeeded & Q(failed_change=True)),
        rollbacks=Count("id", filter=Q(status=Deployment.Status.ROLLED_BACK)),
        rollbacks_rehearsed=Count("id", filter=Q(status=Deployment.Status.ROLLED_BACK, rollback_rehearsed=True)),
    )
    return {
        "per_environment": per_environment,
        "change_failure_rate": _ratio(totals["prod_failed"], totals["prod"]),
        "rollbacks": totals["rollbacks"],
        "rollbacks_rehearsed": totals["rollbacks_rehearsed"],
    }


def _percentiles_by_severity(
    items: QuerySet[Incident], duration, fractions: tuple[Fraction, ...]
) -> list[dict[str, dt.timedelta]]:
    """Nearest-rank percentiles of `duration` per severity, one dict per fraction, in one query: for each
    fraction num/den, the row whose rank r satisfies den·r ≥ num·N and den·r < num·N + den, i.e.
    r = ceil(num/den · N)."""
    partition = [F("severity")]
    ranked = items.annotate(duration=ExpressionWrapper(duration, output_field=DurationField())).annotate(
        rank=Window(RowNumber(), partition_by=partition, order_by=[F("duration").asc(), F("id").asc()]),
        total=Window(Count("id"), partition_by=partition),
    )
    picked = Q()
    for index, fraction in enumerate(fractions):
        num, den = fraction.numerator, fraction.denominator
        ranked = ranked.annotate(**{f"overshoot{index}": F("rank") * den - F("total") * num})
        picked |= Q(**{f"overshoot{index}__gte": 0, f"overshoot{index}__lt": den})
    rows = ranked.filter(picked).values_list(
        "severity", "duration", *(f"overshoot{n}" for n in range(len(fractions)))
    )
    result: list[dict[str, dt.timedelta]] = [{} for _ in fractions]
    for severity, value, *overshoots in rows:
        for index, (fraction, overshoot) in enumerate(zip(fractions, overshoots, strict=True)):
            if 0 <= overshoot < fraction.denominator:
                result[index][severity] = value
    return result


def _seconds(value: dt.timedelta | None) -> int | None:
    return None if value is None else round(value.total_seconds())


def trend_durations(*, week: Week, team: Team | None, audience: str) -> dict[str, Any]:
    """Time to detect and to restore, median and p90 in whole seconds, per severity, over the week's
    incidents (not near-misses) that have both times."""
    incidents = _items(team=team, start=week.start, end=week.end, audience=audience).filter(
        kind=Incident.Kind.INCIDENT
    )
    measures = {
        "time_to_detect": (incidents.filter(detected_at__isnull=False), F("detected_at") - F("started_at")),
        "time_to_restore": (
            incidents.filter(Q(mitigated_at__isnull=False) | Q(resolved_at__isnull=False)),
            Coalesce("mitigated_at", "resolved_at") - F("started_at"),
        ),
    }
    result = {}
    for name, (subset, duration) in measures.items():
        medians, p90s = _percentiles_by_severity(subset, duration, (MEDIAN, P90))
        result[name] = {
            severity: {"median": _seconds(medians.get(severity)), "p90": _seconds(p90s.get(severity))}
            for severity in SEVERITIES
        }
    return result


def trend_action_items(*, week: Week, team: Team | None, audience: str) -> dict[str, int]:
    """Opened and closed in the week; overdue and unowned among the items still open when the week ended.

    Items of uncounted incidents (triage, dismissed) are left out. A team's items are those it owns or that
    belong to its incidents. "Open" is judged at the week's end (created before it, not completed before it),
    so that regenerating an old week gives the numbers it had then.

    Items never completed pile up with history, so they are counted apart (the second query) from an index
    that holds only them and the columns counted, and the incident's status and confidentiality come from
    joins to the few uncounted and confidential incidents rather than a lookup of every item's incident.
    """
    uncounted = Incident.objects.filter(pk=OuterRef("incident_id"), status__in=Incident.UNCOUNTED_STATUSES)
    items = _action_items(audience=audience, team=team).filter(~Exists(uncounted))
    if team is not None:
        items = items.filter(Q(team=team) | Q(incident__team=team))
    next_monday = week.monday + dt.timedelta(days=7)
    conditions = {
        "opened": Q(created_at__gte=week.start, created_at__lt=week.end),
        "closed": Q(completed_at__gte=week.start, completed_at__lt=week.end),
        "overdue": Q(due_date__lt=next_monday),
        "unowned": Q(owner__isnull=True, team__isnull=True),
    }

    def counts(queryset: QuerySet[ActionItem], wanted: dict[str, Q]) -> dict[str, int]:
        return queryset.aggregate(**{name: Count("id", filter=condition) for name, condition in wanted.items()})

    # 1. Opened or closed in the week, and overdue or unowned at its end but completed since.
    completed_later = Q(created_at__lt=week.end, completed_at__gte=week.end)
    recent = counts(
        items.filter(conditions["opened"] | Q(completed_at__gte=week.start)),
        {
            "opened": conditions["opened"],
            "closed": conditions["closed"],
            "overdue": conditions["overdue"] & completed_later,
            "unowned": conditions["unowned"] & completed_later,
        },
    )
    # 2. Never completed, created before the week's end: overdue and unowned.
    never_completed = counts(
        items.filter(created_at__lt=week.end, completed_at__isnull=True),
        {"overdue": conditions["overdue"], "unowned": conditions["unowned"]},
    )
    return {name: recent[name] + never_completed.get(name, 0) for name in conditions}


def trend_caught_by(*, week: Week, team: Team | None, audience: str) -> dict[str, int]:
    """How the week's items were caught, every value listed (items without one are left out)."""
    counts = dict(
        _items(team=team, start=week.start, end=week.end, audience=audience)
        .exclude(caught_by="")
        .values("caught_by")
        .annotate(count=Count("id"))
        .values_list("caught_by", "count")
    )
    return {value: counts.get(value, 0) for value in Incident.CaughtBy.values}


def trend_repeat_offenders(*, week: Week, team: Team | None, audience: str) -> dict[str, list[dict[str, Any]]]:
    """Services and causes named by at least 2 of the week's items, most frequent first."""
    in_week = _items_q("incident__", team=team, start=week.start, end=week.end, audience=audience)
    # The plugin does not follow .annotate() on an auto-created through model (it rejects `count` below).
    services = (
        Incident.services.through.objects.filter(in_week)  # type: ignore[misc]
        .values("service__slug")
        .annotate(count=Count("incident_id", distinct=True))
        .filter(count__gte=2)
        .order_by("-count", "service__slug")
    )
    causes = (
        IncidentCause.objects.filter(in_week)
        .values("cause__slug")
        .annotate(count=Count("incident_id", distinct=True))
        .filter(count__gte=2)
        .order_by("-count", "cause__slug")
    )
    return {
        "services": [{"service": row["service__slug"], "count": row["count"]} for row in services],
        "causes": [{"cause": row["cause__slug"], "count": row["count"]} for row in causes],
    }


def trend_fixes_not_sticking(*, week: Week, team: Team | None, audience: str) -> list[dict[str, Any]]:
    """Items of the week whose service and cause match a done action item for that cause on an earlier item
    of the same service, completed before this item started. One line per (item, service, cause), naming the
    most recently completed such action item. Both the item and the action item are the audience's."""
    IncidentServices = Incident.services.through
    earlier_fix = (
        _action_items(audience=audience, team=team)
        .filter(
            status=ActionItem.Status.DONE,
            cause_id=OuterRef("cause_id"),
            completed_at__lt=OuterRef("incident__started_at"),
            incident__started_at__lt=OuterRef("incident__started_at"),
            incident__services=OuterRef("service_id"),
        )
        .exclude(incident_id=OuterRef("incident_id"))
        .order_by("-completed_at", "-id")
        .values("id")[:1]
    )
    # As above: the plugin does not follow .annotate() on the auto-created through model (`action_item`).
    rows = (
        IncidentServices.objects.filter(  # type: ignore[misc]
            _items_q("incident__", team=team, start=week.start, end=week.end, audience=audience)
        )
        # An inner join to the causes (a filter, not a nullable annotation) lets the database start from the
        # week's items instead of joining every item's services to every item's causes.
        .filter(incident__incident_causes__cause_id__isnull=False)
        .annotate(cause_id=F("incident__incident_causes__cause_id"), action_item=Subquery(earlier_fix))
        .values(
            "incident_id",
            "service__slug",
            "action_item",
            cause_slug=F("incident__incident_causes__cause__slug"),
        )
        .order_by("incident__started_at", "incident__id", "service__slug", "cause_slug")
    )
    lines = [row for row in rows if row["action_item"] is not None]  # kept out here: the subquery runs once a row
    references = _references({row["incident_id"] for row in lines})
    return [
        {
            "number": references[row["incident_id"]],
            "cause": row["cause_slug"],
            "service": row["service__slug"],
            "action_item": row["action_item"],
        }
        for row in lines
    ]


def _references(ids: set[int]) -> dict[int, str]:
    """The references (INC-n, NM-n, ...) of a few items, as Incident.reference spells them."""
    items = Incident.objects.filter(pk__in=ids).only("kind", "number", "confidential")
    return {item.pk: item.reference for item in items}


def trend_gate_gaps(*, week: Week, team: Team | None, audience: str) -> dict[str, dict[str, int]]:
    """For each cause of the week, how many items name each gate that should have caught it."""
    rows = (
        IncidentCause.objects.filter(
            _items_q("incident__", team=team, start=week.start, end=week.end, audience=audience)
        )
        .exclude(gate="")
        .values("cause__slug", "gate")
        .annotate(count=Count("id"))
        .order_by("cause__slug", "gate")
    )
    gaps: dict[str, dict[str, int]] = defaultdict(dict)
    for row in rows:
        gaps[row["cause__slug"]][row["gate"]] = row["count"]
    return dict(gaps)


def archive_pick(*, week: Week, team: Team | None, audience: str) -> dict[str, str] | None:
    """A published postmortem worth re-reading, from any team (learning travels). The pick itself is never
    confidential (only near-misses can be); for "everyone" a confidential near-miss's causes do not sway it.

    1. Similar to this week's: started in the year (ARCHIVE_YEAR_WEEKS) before the report's 13-week window
       and sharing the most causes with the scope's items of the week (the most recent first on a tie). The
       year bounds the work: ranking every older postmortem would make the report slower as history grows.
    2. Otherwise a year old today: started in the same week 52 weeks earlier, the most severe first.
    """
    archive = Incident.objects.filter(
        kind=Incident.Kind.INCIDENT, status=Incident.Status.PUBLISHED, confidential=False
    )
    week_causes = list(
        IncidentCause.objects.filter(
            _items_q("incident__", team=team, start=week.start, end=week.end, audience=audience)
        )
        .order_by()
        .values_list("cause_id", flat=True)
        .distinct()
    )
    # Each candidate's shared causes are counted from the (incident, cause) index, and only ids are ranked:
    # the candidates' rows are not read, the pick's alone is.
    shared = (
        IncidentCause.objects.filter(incident_id=OuterRef("pk"), cause_id__in=week_causes)
        .order_by()
        .values("incident_id")
        .annotate(count=Count("*"))
        .values("count")
    )
    first_week = week.window()[0]
    similar = (
        archive.filter(
            started_at__lt=first_week.start, started_at__gte=first_week.shifted(-ARCHIVE_YEAR_WEEKS).start
        )
        .annotate(shared=Coalesce(Subquery(shared), 0))
        .order_by("-shared", "-started_at", "-id")
    )
    year_ago = week.shifted(-ARCHIVE_YEAR_WEEKS)
    anniversary = (
        archive.filter(started_at__gte=year_ago.start, started_at__lt=year_ago.end)
        .annotate(severity_rank=Case(When(severity="", then=Value("sev9")), default=F("severity")))
        .order_by("severity_rank", "started_at", "id")
    )
    # The best candidate; it is similar only if it shares a cause (filtering on `shared` would count twice).
    best = similar.values_list("pk", "shared").first() if week_causes else None
    pick_id = best[0] if best and best[1] else anniversary.values_list("pk", flat=True).first()
    # pk=None reads as IS NULL (no row, so no pick); the plugin's lookup type for a pk leaves None out.
    pick = Incident.objects.only("kind", "number", "title").filter(pk=pick_id).first()  # type: ignore[misc]
    if pick is None:
        return None
    path = reverse("incidents:incident_detail", args=[pick.reference])
    return {"number": pick.reference, "title": pick.title, "url": f"{settings.SITE_URL}{path}"}


def trend_confidential(*, weeks: list[Week], team: Team | None) -> dict[str, int]:
    """How many confidential near-misses the "confidential" report counts: in its week and in the window.
    Only that report carries this section, so that its reader is told what it holds."""
    confidential = Q(confidential=True)
    counted = _items(team=team, start=weeks[0].start, end=weeks[-1].end, audience=CONFIDENTIAL).filter(
        confidential
    )
    return counted.aggregate(
        week=Count("id", filter=Q(started_at__gte=weeks[-1].start)),
        window=Count("id"),
    )


def report_data(*, week: Week, team: Team | None, audience: str = EVERYONE) -> dict[str, Any]:
    """The whole report for `week`, the scope (the organisation, or one team) and the audience, in the
    shape docs/design.md describes. The "everyone" report is what it would be if no confidential near-miss existed."""
    weeks = week.window()
    scoped: dict[str, Any] = {"week": week, "team": team, "audience": audience}
    data = {
        "week": week.label,
        "scope": scope_of(team),
        "audience": audience,
        "generated_at": timezone.now().isoformat(),
        "weeks": [item.label for item in weeks],
        "counts": trend_counts(weeks=weeks, team=team, audience=audience),
        "causes": trend_causes(weeks=weeks, team=team, audience=audience),
        "environments": trend_environments(**scoped),
        "deployments": trend_deployments(**scoped),
        "durations": trend_durations(**scoped),
        "action_items": trend_action_items(**scoped),
        "caught_by": trend_caught_by(**scoped),
        "repeat_offenders": trend_repeat_offenders(**scoped),
        "fixes_not_sticking": trend_fixes_not_sticking(**scoped),
        "gate_gaps": trend_gate_gaps(**scoped),
        "archive_pick": archive_pick(**scoped),
    }
    if audience == CONFIDENTIAL:
        data["confidential_near_misses"] = trend_confidential(weeks=weeks, team=team)
    return data


# ---------------------------------------------------------------------------------------------------------
# Reading stored reports


def report_audience_for(viewer: Viewer, team: Team | None) -> str:
    """Which report of a scope the viewer reads: the one with confidential near-misses for admins (every
    scope) and for the team's leads (that team's only); the "everyone" one for everybody else, tools included.

    The single answer to "who reads which audience"; `_reads_confidential_q` is its queryset form.
    """
    if viewer.is_admin or (team is not None and team.pk in viewer.lead_team_ids):
        return CONFIDENTIAL
    return EVERYONE


def _reads_confidential_q(viewer: Viewer) -> Q:
    """The reports whose scope `report_audience_for` answers "confidential" for, as a filter on TrendReport."""
    if viewer.is_admin:
        return Q()
    return Q(team_id__in=sorted(viewer.lead_team_ids))


def reports_visible(viewer: Viewer) -> QuerySet[TrendReport]:
    """The reports a viewer reads, one per (week, scope): of the audience report_audience_for gives them.

    Reports hold aggregates only, so everyone signed in (and every tool) reads every team's report; anonymous
    visitors read none. A scope's confidential report is read by those it is for, or, when a week has only
    an "everyone" report (stored before reports had audiences), that one.
    """
    reports = TrendReport.objects.select_related("team")
    if not (viewer.is_admin or viewer.user_id is not None or viewer.team_ids):
        return reports.none()
    privileged = _reads_confidential_q(viewer)
    if not viewer.is_admin and not viewer.lead_team_ids:
        return reports.filter(audience=EVERYONE)
    sibling = TrendReport.objects.filter(
        week_start=OuterRef("week_start"), scope=OuterRef("scope"), audience=CONFIDENTIAL
    )
    return reports.filter(
        (Q(audience=CONFIDENTIAL) & privileged) | (Q(audience=EVERYONE) & ~(privileged & Exists(sibling)))
    )


def report_list(*, viewer: Viewer) -> QuerySet[TrendReport]:
    """Stored reports the viewer reads, newest week first, organisation before teams; `data` is not loaded."""
    return reports_visible(viewer).defer("data").order_by("-week_start", "team__name", "id")


def report_get(*, viewer: Viewer, week: Week, scope: str) -> TrendReport:
    """The report of `week` and `scope` the viewer reads; TrendReport.DoesNotExist when there is none."""
    return reports_visible(viewer).get(week_start=week.monday, scope=scope)


def report_neighbours(*, viewer: Viewer, week: Week, scope: str) -> dict[str, Week | None]:
    """The weeks of the stored reports of `scope` the viewer reads just before and after `week`, and the latest
    one (None where there is none): the report page's previous, next and latest links. Three small queries."""
    weeks = reports_visible(viewer).filter(scope=scope).values_list("week_start", flat=True)
    previous = weeks.filter(week_start__lt=week.monday).order_by("-week_start").first()
    following = weeks.filter(week_start__gt=week.monday).order_by("week_start").first()
    latest = weeks.order_by("-week_start").first()
    return {
        "previous": Week(previous) if previous else None,
        "next": Week(following) if following else None,
        "latest": Week(latest) if latest else None,
    }


def week_has_reports(week: Week) -> bool:
    """Whether any report of `week` is stored (or being generated), of any scope and status."""
    return TrendReport.objects.filter(week_start=week.monday).exists()


def report_labels() -> Labels:
    """Readable names of every cause, environment and service, for the slugs in reports' data."""
    return Labels(
        causes=dict(Cause.objects.values_list("slug", "name")),
        environments=dict(Environment.objects.values_list("slug", "name")),
        services=dict(Service.objects.values_list("slug", "name")),
    )


def team_for_scope(scope: str) -> Team | None:
    """`organisation` → None; `team:<slug>` → the team; Team.DoesNotExist for an unknown team."""
    if scope == TrendReport.ORGANISATION:
        return None
    if not scope.startswith("team:"):
        raise Team.DoesNotExist(scope)
    return Team.objects.get(slug=scope.removeprefix("team:"))


def teams_for_requests(viewer: Viewer) -> list[Team]:
    """The teams whose report the viewer may generate now (policies.may_request_report): all for admins, the
    teams they lead otherwise."""
    teams = Team.objects.order_by("name")
    return list(teams if viewer.is_admin else teams.filter(pk__in=viewer.lead_team_ids))
