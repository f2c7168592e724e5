"""Reads behind the weekly trend report: every number is aggregated in the database.

The numbers follow DESIGN.md ("Definitions") literally; where it leaves a choice open, the choice is written
beside the query that makes it and in README.md ("Trend reports"). Python only shapes the aggregated rows into
the report's JSON (13 week buckets, the cause list, the severities).

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
    Deployment,
    Environment,
    Incident,
    IncidentCause,
    Team,
    TrendReport,
)
from incidents.reports.weeks import Week
from incidents.selectors import Viewer

SEVERITIES = tuple(Incident.Severity.values)
TOP_CAUSES = 5
MEDIAN, P90 = Fraction(1, 2), Fraction(9, 10)
ARCHIVE_YEAR_WEEKS = 52


# ---------------------------------------------------------------------------------------------------------
# Building blocks


def scope_of(team: Team | None) -> str:
    return f"team:{team.slug}" if team else TrendReport.ORGANISATION


def _items_q(prefix: str, *, team: Team | None, start: dt.datetime, end: dt.datetime) -> Q:
    """Counted items (neither in triage nor dismissed) of the scope that started in [start, end)."""
    condition = Q(**{f"{prefix}started_at__gte": start, f"{prefix}started_at__lt": end}) & ~Q(
        **{f"{prefix}status__in": Incident.UNCOUNTED_STATUSES}
    )
    if team is not None:
        condition &= Q(**{f"{prefix}team": team})
    return condition


def _items(*, team: Team | None, start: dt.datetime, end: dt.datetime) -> QuerySet[Incident]:
    return Incident.objects.filter(_items_q("", team=team, start=start, end=end)).order_by()


def _week_bucket(field: str, weeks: list[Week]) -> Case:
    """The index (0 = oldest) of the week that holds `field`, for rows already limited to the window."""
    return Case(
        *(When(**{f"{field}__lt": week.end}, then=Value(index)) for index, week in enumerate(weeks)),
        default=None,
        output_field=IntegerField(),
    )


def _ratio(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 4)


CONFIDENTIAL = Q(confidential=True)


def _shown(count: int, confidential: int) -> int | None:
    """`count`, or None (suppressed) when it holds a confidential near-miss and is smaller than
    REPORT_MIN_CELL_SIZE: so small a cell could single out the confidential reporter."""
    return None if confidential and count < settings.REPORT_MIN_CELL_SIZE else count


# ---------------------------------------------------------------------------------------------------------
# The report's sections


def trend_counts(*, weeks: list[Week], team: Team | None) -> dict[str, Any]:
    """Incidents per severity and near-misses for each of the weeks, and the near-miss share."""
    rows = (
        _items(team=team, start=weeks[0].start, end=weeks[-1].end)
        .annotate(bucket=_week_bucket("started_at", weeks))
        .values("bucket", "kind", "severity")
        .annotate(count=Count("id"), confidential=Count("id", filter=CONFIDENTIAL))
    )
    by_severity = {severity: [0] * len(weeks) for severity in SEVERITIES}
    incidents, near_misses, confidential = [0] * len(weeks), [0] * len(weeks), [0] * len(weeks)
    for row in rows:  # at most 13 buckets x 2 kinds x 5 severities
        if row["kind"] == Incident.Kind.NEAR_MISS:
            near_misses[row["bucket"]] += row["count"]
            confidential[row["bucket"]] += row["confidential"]
            continue
        incidents[row["bucket"]] += row["count"]
        if row["severity"] in by_severity:
            by_severity[row["severity"]][row["bucket"]] += row["count"]
    shown = [_shown(nm, conf) for nm, conf in zip(near_misses, confidential, strict=True)]
    return {
        "incidents": by_severity,
        "near_misses": shown,
        "near_miss_share": [
            None if nm is None else _ratio(nm, nm + inc) for nm, inc in zip(shown, incidents, strict=True)
        ],
    }


def trend_causes(*, weeks: list[Week], team: Team | None) -> dict[str, Any]:
    """Items per cause per week (causes seen in the window), this week's top causes and the rising ones.

    Rising: at least 2 this week and at least twice the weekly average of the weeks before (compared as
    12 x this week ≥ 2 x their total, in whole numbers).
    """
    rows = (
        IncidentCause.objects.filter(_items_q("incident__", team=team, start=weeks[0].start, end=weeks[-1].end))
        .annotate(bucket=_week_bucket("incident__started_at", weeks))
        .values("bucket", "cause__slug")
        .annotate(
            count=Count("incident_id", distinct=True),
            confidential=Count("incident_id", distinct=True, filter=Q(incident__confidential=True)),
        )
        .order_by()
    )
    per_week: dict[str, list[int]] = defaultdict(lambda: [0] * len(weeks))
    shown: dict[str, list[int | None]] = defaultdict(lambda: [0] * len(weeks))
    for row in rows:
        per_week[row["cause__slug"]][row["bucket"]] = row["count"]
        shown[row["cause__slug"]][row["bucket"]] = _shown(row["count"], row["confidential"])
    # A suppressed cell is left out of the top and rising lists, which would otherwise reveal it.
    this_week = {slug: counts[-1] for slug, counts in per_week.items() if counts[-1] and shown[slug][-1]}
    top = sorted(this_week.items(), key=lambda item: (-item[1], item[0]))[:TOP_CAUSES]
    before = len(weeks) - 1
    rising = [
        slug
        for slug, count in sorted(this_week.items(), key=lambda item: (-item[1], item[0]))
        if count >= 2 and count * before >= 2 * sum(per_week[slug][:-1])
    ]
    return {
        "per_week": dict(sorted(shown.items())),
        "top": [{"cause": slug, "count": count} for slug, count in top],
        "rising": rising,
    }


def trend_environments(*, week: Week, team: Team | None) -> dict[str, Any]:
    """Where the week's items were caught (every environment, in promotion order) and the prod escape rate.

    The week's items are grouped by environment in one query bounded to the week (a join from every
    environment would read the whole history); the few groups are then laid out per environment.
    """
    environments = list(Environment.objects.order_by("promotion_order").values_list("id", "slug", "kind"))
    grouped = {
        row["environment_id"]: row
        for row in _items(team=team, start=week.start, end=week.end)
        .values("environment_id")
        .annotate(count=Count("id"), confidential=Count("id", filter=CONFIDENTIAL))
    }
    empty = {"count": 0, "confidential": 0}
    caught_in = {
        slug: _shown(grouped.get(pk, empty)["count"], grouped.get(pk, empty)["confidential"])
        for pk, slug, _ in environments
    }
    production = {pk for pk, _, kind in environments if kind == Environment.Kind.PRODUCTION}
    known = sum(row["count"] for pk, row in grouped.items() if pk is not None)
    confidential = sum(row["confidential"] for pk, row in grouped.items() if pk is not None)
    escaped = sum(row["count"] for pk, row in grouped.items() if pk in production)
    escape_rate = _ratio(escaped, known) if _shown(known, confidential) is not None else None
    return {"caught_in": caught_in, "escape_rate": escape_rate}


def trend_deployments(*, week: Week, team: Team | None) -> dict[str, Any]:
    """Deployments of the week (all statuses) per environment, change failure rate and rollbacks.

    A team's deployments are those of releases of the services it owns.
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


def trend_durations(*, week: Week, team: Team | None) -> dict[str, Any]:
    """Time to detect and to restore, median and p90 in whole seconds, per severity, over the week's
    incidents (not near-misses) that have both times."""
    incidents = _items(team=team, start=week.start, end=week.end).filter(kind=Incident.Kind.INCIDENT)
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


def trend_action_items(*, week: Week, team: Team | None) -> dict[str, int]:
    """Opened and closed in the week; overdue and unowned among the items still open when the week ended.

    Items of uncounted incidents (triage, dismissed) are left out. A team's items are those it owns or that
    belong to its incidents. "Open" is judged at the week's end (created before it, not completed before it),
    so that regenerating an old week gives the numbers it had then.

    Items never completed pile up with history, so they are counted apart (the second query) from an index
    that holds only them and the columns counted, and the incident's status and confidentiality come from
    joins to the few uncounted and confidential incidents rather than a lookup of every item's incident.
    """
    uncounted = Incident.objects.filter(pk=OuterRef("incident_id"), status__in=Incident.UNCOUNTED_STATUSES)
    items = ActionItem.objects.filter(~Exists(uncounted)).order_by()
    if team is not None:
        items = items.filter(Q(team=team) | Q(incident__team=team))
    next_monday = week.monday + dt.timedelta(days=7)
    conditions = {
        "opened": Q(created_at__gte=week.start, created_at__lt=week.end),
        "closed": Q(completed_at__gte=week.start, completed_at__lt=week.end),
        "overdue": Q(due_date__lt=next_monday),
        "unowned": Q(owner__isnull=True, team__isnull=True),
    }
    confidential = Q(incident_id__in=Incident.objects.filter(confidential=True).values("pk"))

    def counts(queryset: QuerySet[ActionItem], wanted: dict[str, Q]) -> dict[str, int]:
        return queryset.aggregate(
            **{name: Count("id", filter=condition) for name, condition in wanted.items()},
            **{
                f"{name}_confidential": Count("id", filter=condition & confidential)
                for name, condition in wanted.items()
            },
        )

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
    totals = {key: value + never_completed.get(key, 0) for key, value in recent.items()}
    return {name: _shown(totals[name], totals[f"{name}_confidential"]) for name in conditions}


def trend_caught_by(*, week: Week, team: Team | None) -> dict[str, int]:
    """How the week's items were caught, every value listed (items without one are left out)."""
    counts = (
        _items(team=team, start=week.start, end=week.end)
        .exclude(caught_by="")
        .values("caught_by")
        .annotate(count=Count("id"), confidential=Count("id", filter=CONFIDENTIAL))
        .values_list("caught_by", "count", "confidential")
    )
    shown = {value: _shown(count, confidential) for value, count, confidential in counts}
    return {value: shown.get(value, 0) for value in Incident.CaughtBy.values}


def trend_repeat_offenders(*, week: Week, team: Team | None) -> dict[str, list[dict[str, Any]]]:
    """Services and causes named by at least 2 of the week's items, most frequent first."""
    in_week = _items_q("incident__", team=team, start=week.start, end=week.end)
    confidential = Count("incident_id", distinct=True, filter=Q(incident__confidential=True))
    services = (
        Incident.services.through.objects.filter(in_week)
        .values("service__slug")
        .annotate(count=Count("incident_id", distinct=True), confidential=confidential)
        .filter(count__gte=2)
        .order_by("-count", "service__slug")
    )
    causes = (
        IncidentCause.objects.filter(in_week)
        .values("cause__slug")
        .annotate(count=Count("incident_id", distinct=True), confidential=confidential)
        .filter(count__gte=2)
        .order_by("-count", "cause__slug")
    )
    # A line that would single out a confidential reporter is left out altogether.
    return {
        "services": [
            {"service": row["service__slug"], "count": row["count"]}
            for row in services
            if _shown(row["count"], row["confidential"]) is not None
        ],
        "causes": [
            {"cause": row["cause__slug"], "count": row["count"]}
            for row in causes
            if _shown(row["count"], row["confidential"]) is not None
        ],
    }


def trend_fixes_not_sticking(*, week: Week, team: Team | None) -> list[dict[str, Any]]:
    """Items of the week whose service and cause match a done action item for that cause on an earlier item
    of the same service, completed before this item started. One line per (item, service, cause), naming the
    most recently completed such action item."""
    IncidentServices = Incident.services.through
    earlier_fix = (
        ActionItem.objects.filter(
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
    rows = (
        IncidentServices.objects.filter(_items_q("incident__", team=team, start=week.start, end=week.end))
        .exclude(incident__confidential=True)  # the list names items: a confidential one never appears
        # An inner join to the causes (a filter, not a nullable annotation) lets the database start from the
        # week's items instead of joining every item's services to every item's causes.
        .filter(incident__incident_causes__cause_id__isnull=False)
        .annotate(cause_id=F("incident__incident_causes__cause_id"), action_item=Subquery(earlier_fix))
        .values(
            "incident__kind",
            "incident__number",
            "service__slug",
            "action_item",
            cause_slug=F("incident__incident_causes__cause__slug"),
        )
        .order_by("incident__started_at", "incident__id", "service__slug", "cause_slug")
    )
    return [
        {
            "number": f"{Incident.NUMBER_PREFIX[row['incident__kind']]}-{row['incident__number']}",
            "cause": row["cause_slug"],
            "service": row["service__slug"],
            "action_item": row["action_item"],
        }
        for row in rows
        if row["action_item"] is not None  # no earlier fix; kept out here so the subquery runs once a row
    ]


def trend_gate_gaps(*, week: Week, team: Team | None) -> dict[str, dict[str, int]]:
    """For each cause of the week, how many items name each gate that should have caught it."""
    rows = (
        IncidentCause.objects.filter(_items_q("incident__", team=team, start=week.start, end=week.end))
        .exclude(gate="")
        .values("cause__slug", "gate")
        .annotate(count=Count("id"), confidential=Count("id", filter=Q(incident__confidential=True)))
        .order_by("cause__slug", "gate")
    )
    gaps: dict[str, dict[str, int | None]] = defaultdict(dict)
    for row in rows:
        gaps[row["cause__slug"]][row["gate"]] = _shown(row["count"], row["confidential"])
    return dict(gaps)


def archive_pick(*, week: Week, team: Team | None) -> dict[str, str] | None:
    """A published postmortem worth re-reading, from any team (learning travels).

    1. Similar to this week's: started in the year (ARCHIVE_YEAR_WEEKS) before the report's 13-week window
       and sharing the most causes with the scope's items of the week (the most recent first on a tie). The
       year bounds the work: ranking every older postmortem would make the report slower as history grows.
    2. Otherwise a year old today: started in the same week 52 weeks earlier, the most severe first.
    """
    archive = Incident.objects.filter(
        kind=Incident.Kind.INCIDENT, status=Incident.Status.PUBLISHED, confidential=False
    )
    week_causes = list(
        IncidentCause.objects.filter(_items_q("incident__", team=team, start=week.start, end=week.end))
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
    pick = Incident.objects.only("kind", "number", "title").filter(pk=pick_id).first()
    if pick is None:
        return None
    path = reverse("incidents:incident_detail", args=[pick.reference])
    return {"number": pick.reference, "title": pick.title, "url": f"{settings.SITE_URL}{path}"}


def report_data(*, week: Week, team: Team | None) -> dict[str, Any]:
    """The whole report for `week` and the scope (the organisation, or one team), in the DESIGN.md shape."""
    weeks = week.window()
    return {
        "week": week.label,
        "scope": scope_of(team),
        "generated_at": timezone.now().isoformat(),
        "weeks": [item.label for item in weeks],
        "counts": trend_counts(weeks=weeks, team=team),
        "causes": trend_causes(weeks=weeks, team=team),
        "environments": trend_environments(week=week, team=team),
        "deployments": trend_deployments(week=week, team=team),
        "durations": trend_durations(week=week, team=team),
        "action_items": trend_action_items(week=week, team=team),
        "caught_by": trend_caught_by(week=week, team=team),
        "repeat_offenders": trend_repeat_offenders(week=week, team=team),
        "fixes_not_sticking": trend_fixes_not_sticking(week=week, team=team),
        "gate_gaps": trend_gate_gaps(week=week, team=team),
        "archive_pick": archive_pick(week=week, team=team),
        # Counts that could single out a confidential reporter are null (see _shown).
        "min_cell_size": settings.REPORT_MIN_CELL_SIZE,
    }


# ---------------------------------------------------------------------------------------------------------
# Reading stored reports


def reports_visible(viewer: Viewer) -> QuerySet[TrendReport]:
    """Reports hold aggregates only, so everyone signed in (and every tool) sees every team's reports, as
    with non-confidential items; anonymous visitors see none."""
    reports = TrendReport.objects.select_related("team")
    if viewer.is_admin or viewer.user_id is not None or viewer.team_ids:
        return reports
    return reports.none()


def report_list(*, viewer: Viewer) -> QuerySet[TrendReport]:
    """Stored reports, newest week first, organisation before teams; `data` is not loaded."""
    return reports_visible(viewer).defer("data").order_by("-week_start", "team__name", "id")


def report_get(*, viewer: Viewer, week: Week, scope: str) -> TrendReport:
    """The report of `week` and `scope` if the viewer may see it; TrendReport.DoesNotExist otherwise."""
    return reports_visible(viewer).get(week_start=week.monday, scope=scope)


def team_for_scope(scope: str) -> Team | None:
    """`organisation` → None; `team:<slug>` → the team; Team.DoesNotExist for an unknown team."""
    if scope == TrendReport.ORGANISATION:
        return None
    if not scope.startswith("team:"):
        raise Team.DoesNotExist(scope)
    return Team.objects.get(slug=scope.removeprefix("team:"))


def teams_for_requests(user) -> list[Team]:
    """The teams whose report the person may generate now: all for admins, the teams they lead otherwise."""
    if not user.is_authenticated:
        return []
    if user.is_superuser:
        return list(Team.objects.order_by("name"))
    return list(Team.objects.filter(memberships__user=user, memberships__role="lead").order_by("name"))
