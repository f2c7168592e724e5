# ruff: noqa: S608 - every query below is built from constant fragments; values are bound parameters
"""P1's baseline: the weekly report's numbers computed with hand-written SQL (PostgreSQL only).

Each query is what a person would write by hand for one section of the report (docs/design.md), reading the same
tables; Python only shapes the rows into the report_data() dictionary so that the two can be compared key by
key. It computes the "everyone" report: confidential near-misses and their action items are left out.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.conf import settings
from django.db import connection
from django.urls import reverse

from incidents.models import Incident
from incidents.weeks import Week

SEVERITIES = tuple(Incident.Severity.values)
UNCOUNTED = "('triage', 'dismissed')"
PREFIX = {"incident": "INC", "near_miss": "NM"}
TOP_CAUSES = 5

# The scope's counted items of [%(start)s, %(end)s) that everyone may read; `i` is incidents_incident.
ITEMS = (
    f"i.started_at >= %(start)s AND i.started_at < %(end)s AND i.status NOT IN {UNCOUNTED} AND NOT i.confidential"
)


def _rows(sql: str, params: dict[str, Any]) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _ratio(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 4)


def counts(window: dict[str, Any], size: int) -> dict[str, Any]:
    rows = _rows(
        f"""
        SELECT width_bucket(i.started_at, %(ends)s::timestamptz[]) AS bucket, i.kind, i.severity,
               count(*)
        FROM incidents_incident i WHERE {ITEMS}
        GROUP BY 1, 2, 3""",
        window,
    )
    by_severity = {severity: [0] * size for severity in SEVERITIES}
    incidents, near_misses = [0] * size, [0] * size
    for bucket, kind, severity, count in rows:
        if kind == "near_miss":
            near_misses[bucket] += count
        else:
            incidents[bucket] += count
            if severity in by_severity:
                by_severity[severity][bucket] += count
    share = [_ratio(nm, nm + inc) for nm, inc in zip(near_misses, incidents, strict=True)]
    return {"incidents": by_severity, "near_misses": near_misses, "near_miss_share": share}


def causes(window: dict[str, Any], size: int) -> dict[str, Any]:
    rows = _rows(
        f"""
        SELECT width_bucket(i.started_at, %(ends)s::timestamptz[]), c.slug,
               count(DISTINCT i.id)
        FROM incidents_incidentcause ic
        JOIN incidents_incident i ON i.id = ic.incident_id
        JOIN incidents_cause c ON c.id = ic.cause_id
        WHERE {ITEMS}
        GROUP BY 1, 2""",
        window,
    )
    per_week: dict[str, list[int]] = defaultdict(lambda: [0] * size)
    for bucket, slug, count in rows:
        per_week[slug][bucket] = count
    this_week = {slug: counts[-1] for slug, counts in per_week.items() if counts[-1]}
    ranked = sorted(this_week.items(), key=lambda item: (-item[1], item[0]))
    rising = [s for s, n in ranked if n >= 2 and n * (size - 1) >= 2 * sum(per_week[s][:-1])]
    return {
        "per_week": dict(sorted(per_week.items())),
        "top": [{"cause": slug, "count": count} for slug, count in ranked[:TOP_CAUSES]],
        "rising": rising,
    }


def environments(week: dict[str, Any]) -> dict[str, Any]:
    rows = _rows(
        f"""
        SELECT e.slug, count(i.id)
        FROM incidents_environment e
        LEFT JOIN incidents_incident i ON i.environment_id = e.id AND {ITEMS}
        GROUP BY e.id ORDER BY e.promotion_order""",
        week,
    )
    ((escaped, known),) = _rows(
        f"""
        SELECT count(*) FILTER (WHERE e.kind = 'production'), count(i.environment_id)
        FROM incidents_incident i LEFT JOIN incidents_environment e ON e.id = i.environment_id
        WHERE {ITEMS}""",
        week,
    )
    return {"caught_in": dict(rows), "escape_rate": _ratio(escaped, known)}


def deployments(week: dict[str, Any]) -> dict[str, Any]:
    in_week = "d.deployed_at >= %(start)s AND d.deployed_at < %(end)s"
    per_environment = _rows(
        f"""
        SELECT e.slug, count(d.id) FROM incidents_environment e
        LEFT JOIN incidents_deployment d ON d.environment_id = e.id AND {in_week}
        GROUP BY e.id ORDER BY e.promotion_order""",
        week,
    )
    ((prod, prod_failed, rollbacks, rehearsed),) = _rows(
        f"""
        SELECT count(*) FILTER (WHERE prod_ok),
               count(*) FILTER (WHERE prod_ok AND EXISTS (
                   SELECT 1 FROM incidents_incident_releases r JOIN incidents_incident i ON i.id = r.incident_id
                   WHERE r.release_id = x.release_id AND i.kind = 'incident' AND i.status NOT IN {UNCOUNTED}
                     AND NOT i.confidential)),
               count(*) FILTER (WHERE x.status = 'rolled_back'),
               count(*) FILTER (WHERE x.status = 'rolled_back' AND x.rollback_rehearsed)
        FROM (SELECT d.release_id, d.status, d.rollback_rehearsed,
                     d.status = 'succeeded' AND e.kind = 'production' AS prod_ok
              FROM incidents_deployment d JOIN incidents_environment e ON e.id = d.environment_id
              WHERE {in_week}) x""",
        week,
    )
    return {
        "per_environment": dict(per_environment),
        "change_failure_rate": _ratio(prod_failed, prod),
        "rollbacks": rollbacks,
        "rollbacks_rehearsed": rehearsed,
    }


def _seconds(value: dt.timedelta | None) -> int | None:
    return None if value is None else round(value.total_seconds())


def durations(week: dict[str, Any]) -> dict[str, Any]:
    """Nearest-rank median (rank ceil(n/2)) and p90 (rank ceil(9n/10)) per severity, in one pass each."""
    measures = {
        "time_to_detect": ("i.detected_at - i.started_at", "i.detected_at IS NOT NULL"),
        "time_to_restore": (
            "coalesce(i.mitigated_at, i.resolved_at) - i.started_at",
            "(i.mitigated_at IS NOT NULL OR i.resolved_at IS NOT NULL)",
        ),
    }
    result = {}
    for name, (duration, present) in measures.items():
        rows = _rows(
            f"""
            SELECT severity, rank = (n + 1) / 2, rank = (9 * n + 9) / 10, duration FROM (
                SELECT i.severity, {duration} AS duration,
                       row_number() OVER (PARTITION BY i.severity ORDER BY {duration}, i.id) AS rank,
                       count(*) OVER (PARTITION BY i.severity) AS n
                FROM incidents_incident i WHERE {ITEMS} AND i.kind = 'incident' AND {present}) ranked
            WHERE rank = (n + 1) / 2 OR rank = (9 * n + 9) / 10""",
            week,
        )
        found: dict[str, dict[str, int | None]] = {s: {"median": None, "p90": None} for s in SEVERITIES}
        for severity, is_median, is_p90, value in rows:
            if severity not in found:
                continue
            if is_median:
                found[severity]["median"] = _seconds(value)
            if is_p90:
                found[severity]["p90"] = _seconds(value)
        result[name] = found
    return result


def action_items(week: dict[str, Any]) -> dict[str, Any]:
    """Items of counted, non-confidential incidents: those created or completed since the week began, then those
    never completed."""
    counted = (
        "NOT EXISTS (SELECT 1 FROM incidents_incident u WHERE u.id = a.incident_id"
        f" AND (u.status IN {UNCOUNTED} OR u.confidential))"
    )
    overdue, unowned = "a.due_date < %(next_monday)s", "a.owner_id IS NULL AND a.team_id IS NULL"
    later = "a.created_at < %(end)s AND a.completed_at >= %(end)s"
    recent = {
        "opened": "a.created_at >= %(start)s AND a.created_at < %(end)s",
        "closed": "a.completed_at >= %(start)s AND a.completed_at < %(end)s",
        "overdue": f"{later} AND {overdue}",
        "unowned": f"{later} AND {unowned}",
    }

    def totals(conditions: dict[str, str], where: str) -> dict[str, int]:
        columns = ", ".join(f"count(*) FILTER (WHERE {sql})" for sql in conditions.values())
        ((*values,),) = _rows(f"SELECT {columns} FROM incidents_actionitem a WHERE {counted} AND {where}", week)
        return dict(zip(conditions, values, strict=True))

    first = totals(recent, "(a.created_at >= %(start)s AND a.created_at < %(end)s OR a.completed_at >= %(start)s)")
    second = totals({"overdue": overdue, "unowned": unowned}, "a.completed_at IS NULL AND a.created_at < %(end)s")
    return {name: first[name] + second.get(name, 0) for name in recent}


def caught_by(week: dict[str, Any]) -> dict[str, Any]:
    rows = _rows(
        f"""
        SELECT i.caught_by, count(*)
        FROM incidents_incident i WHERE {ITEMS} AND i.caught_by <> '' GROUP BY 1""",
        week,
    )
    counted = dict(rows)
    return {value: counted.get(value, 0) for value in Incident.CaughtBy.values}


def repeat_offenders(week: dict[str, Any]) -> dict[str, Any]:
    def recurring(link_table: str, column: str, named: str) -> list[tuple]:
        return _rows(
            f"""
            SELECT x.slug, count(DISTINCT i.id) AS n
            FROM {link_table} l JOIN incidents_incident i ON i.id = l.incident_id
            JOIN {named} x ON x.id = l.{column}
            WHERE {ITEMS} GROUP BY x.slug HAVING count(DISTINCT i.id) >= 2 ORDER BY n DESC, x.slug""",
            week,
        )

    services = recurring("incidents_incident_services", "service_id", "incidents_service")
    causes = recurring("incidents_incidentcause", "cause_id", "incidents_cause")
    return {
        "services": [{"service": s, "count": n} for s, n in services],
        "causes": [{"cause": s, "count": n} for s, n in causes],
    }


def fixes_not_sticking(week: dict[str, Any]) -> list[dict[str, Any]]:
    rows = _rows(
        f"""
        SELECT i.kind, i.number, s.slug, c.slug, fix.id
        FROM incidents_incident_services l
        JOIN incidents_incident i ON i.id = l.incident_id
        JOIN incidents_service s ON s.id = l.service_id
        JOIN incidents_incidentcause ic ON ic.incident_id = i.id
        JOIN incidents_cause c ON c.id = ic.cause_id
        CROSS JOIN LATERAL (
            SELECT a.id FROM incidents_actionitem a
            JOIN incidents_incident j ON j.id = a.incident_id
            WHERE a.status = 'done' AND a.cause_id = ic.cause_id AND a.completed_at < i.started_at
              AND j.started_at < i.started_at AND a.incident_id <> i.id AND NOT j.confidential
              AND EXISTS (SELECT 1 FROM incidents_incident_services js
                          WHERE js.incident_id = j.id AND js.service_id = l.service_id)
            ORDER BY a.completed_at DESC, a.id DESC LIMIT 1) fix
        WHERE {ITEMS}
        ORDER BY i.started_at, i.id, s.slug, c.slug""",
        week,
    )
    return [
        {"number": f"{PREFIX[kind]}-{number}", "cause": cause, "service": service, "action_item": item}
        for kind, number, service, cause, item in rows
    ]


def gate_gaps(week: dict[str, Any]) -> dict[str, Any]:
    rows = _rows(
        f"""
        SELECT c.slug, ic.gate, count(*)
        FROM incidents_incidentcause ic JOIN incidents_incident i ON i.id = ic.incident_id
        JOIN incidents_cause c ON c.id = ic.cause_id
        WHERE {ITEMS} AND ic.gate <> '' GROUP BY 1, 2 ORDER BY 1, 2""",
        week,
    )
    gaps: dict[str, dict[str, int]] = defaultdict(dict)
    for slug, gate, count in rows:
        gaps[slug][gate] = count
    return dict(gaps)


def archive_pick(week: dict[str, Any]) -> dict[str, str] | None:
    archive = "p.kind = 'incident' AND p.status = 'published' AND NOT p.confidential"
    causes = [
        cause
        for (cause,) in _rows(
            f"""SELECT DISTINCT ic.cause_id FROM incidents_incidentcause ic
                JOIN incidents_incident i ON i.id = ic.incident_id WHERE {ITEMS}""",
            week,
        )
    ]
    rows = _rows(
        f"""
        SELECT p.id, coalesce(shared.n, 0) AS n FROM incidents_incident p
        LEFT JOIN LATERAL (
            SELECT count(*) AS n FROM incidents_incidentcause pc
            WHERE pc.incident_id = p.id AND pc.cause_id = ANY(%(causes)s)) shared ON true
        WHERE {archive} AND p.started_at < %(window_start)s AND p.started_at >= %(archive_start)s
        ORDER BY n DESC, p.started_at DESC, p.id DESC LIMIT 1""",
        {**week, "causes": causes},
    )
    rows = [row for row in rows if row[1]]
    if not rows:
        rows = _rows(
            f"""
            SELECT p.id FROM incidents_incident p
            WHERE {archive} AND p.started_at >= %(year_start)s AND p.started_at < %(year_end)s
            ORDER BY CASE WHEN p.severity = '' THEN 'sev9' ELSE p.severity END, p.started_at, p.id LIMIT 1""",
            week,
        )
    if not rows:
        return None
    ((kind, number, title),) = _rows(
        "SELECT kind, number, title FROM incidents_incident WHERE id = %(id)s", {"id": rows[0][0]}
    )
    reference = f"{PREFIX[kind]}-{number}"
    path = reverse("incidents:incident_detail", args=[reference])
    return {"number": reference, "title": title, "url": f"{settings.SITE_URL}{path}"}


def report_numbers(*, week: Week) -> dict[str, Any]:
    """The organisation's report of `week` without its `generated_at`, computed with plain SQL."""
    weeks = week.window()
    year_ago = week.shifted(-52)
    window = {"start": weeks[0].start, "end": weeks[-1].end, "ends": [w.end for w in weeks[:-1]]}
    this_week = {
        "start": week.start,
        "end": week.end,
        "window_start": weeks[0].start,
        "archive_start": weeks[0].shifted(-52).start,
        "next_monday": week.monday + dt.timedelta(days=7),
        "year_start": year_ago.start,
        "year_end": year_ago.end,
    }
    return {
        "week": week.label,
        "scope": "organisation",
        "audience": "everyone",
        "weeks": [item.label for item in weeks],
        "counts": counts(window, len(weeks)),
        "causes": causes(window, len(weeks)),
        "environments": environments(this_week),
        "deployments": deployments(this_week),
        "durations": durations(this_week),
        "action_items": action_items(this_week),
        "caught_by": caught_by(this_week),
        "repeat_offenders": repeat_offenders(this_week),
        "fixes_not_sticking": fixes_not_sticking(this_week),
        "gate_gaps": gate_gaps(this_week),
        "archive_pick": archive_pick(this_week),
    }
