"""The data tables under the charts and the CSV export, shaped from a report's stored data (no queries)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.urls import reverse

from incidents.report_summary import NO_LABELS, SEVERITIES, Labels, duration, incidents_per_week, percent
from incidents.views.report_charts import CAUGHT_BY_LABELS, GATE_LABELS, Links, report_links

HEAT_LEVELS = 4


@dataclass(frozen=True)
class Cell:
    value: Any
    href: str | None = None
    css: str = ""


@dataclass
class Table:
    caption: str
    header: list[str]
    rows: list[list[Cell]] = field(default_factory=list)


def _change(current: int, previous: int | None) -> str:
    return "" if previous is None else f"{current - previous:+d}"


def counts_table(data: dict[str, Any], links: Links) -> Table:
    table = Table(
        "Incidents by severity and near-misses per week",
        [
            "Week",
            *(s.upper() for s in SEVERITIES),
            "Incidents",
            "Change",
            "Near-misses",
            "Change",
            "Near-miss share",
        ],
    )
    incidents = incidents_per_week(data)
    near_misses = data["counts"]["near_misses"]
    for index, week in enumerate(data["weeks"]):
        previous = index - 1 if index else None
        table.rows.append(
            [
                Cell(week),
                *(
                    Cell(
                        data["counts"]["incidents"][sev][index],
                        links.incidents(week, kind="incident", severity=sev),
                    )
                    for sev in SEVERITIES
                ),
                Cell(incidents[index], links.incidents(week, kind="incident")),
                Cell(_change(incidents[index], None if previous is None else incidents[previous])),
                Cell(near_misses[index], links.incidents(week, kind="near_miss")),
                Cell(_change(near_misses[index], None if previous is None else near_misses[previous])),
                Cell(percent(data["counts"]["near_miss_share"][index])),
            ]
        )
    return table


def causes_table(data: dict[str, Any], links: Links) -> Table:
    rising = set(data["causes"]["rising"])
    table = Table("Items per cause per week", ["Cause", *(w.split("-")[1] for w in data["weeks"]), "Rising"])
    for slug, counts in data["causes"]["per_week"].items():
        cells = [Cell(n, links.incidents(week, cause=slug)) for week, n in zip(data["weeks"], counts, strict=True)]
        table.rows.append([Cell(links.labels.cause(slug)), *cells, Cell("rising" if slug in rising else "")])
    return table


def caught_in_table(data: dict[str, Any], links: Links) -> Table:
    table = Table(
        f"Caught in (prod escape rate {percent(data['environments']['escape_rate'])})", ["Environment", "Items"]
    )
    for slug, n in data["environments"]["caught_in"].items():
        table.rows.append([Cell(links.labels.environment(slug)), Cell(n, links.incidents(environment=slug))])
    return table


def caught_by_table(data: dict[str, Any], links: Links) -> Table:
    table = Table("Caught by", ["How", "Items"])
    for value, n in data["caught_by"].items():
        table.rows.append([Cell(CAUGHT_BY_LABELS.get(value, value)), Cell(n, links.incidents(caught_by=value))])
    return table


def durations_table(data: dict[str, Any], links: Links) -> Table:
    table = Table(
        "Time to detect and to restore (median and 90th percentile, nearest rank)",
        ["Severity", "Detect median", "Detect p90", "Restore median", "Restore p90"],
    )
    detect, restore = data["durations"]["time_to_detect"], data["durations"]["time_to_restore"]
    for sev in SEVERITIES:
        table.rows.append(
            [
                Cell(sev.upper(), links.incidents(kind="incident", severity=sev)),
                Cell(duration(detect[sev]["median"])),
                Cell(duration(detect[sev]["p90"])),
                Cell(duration(restore[sev]["median"])),
                Cell(duration(restore[sev]["p90"])),
            ]
        )
    return table


def gate_gaps_table(data: dict[str, Any], links: Links) -> Table:
    """The cause x gate heat map: darker cells name a gate more often."""
    gaps = data["gate_gaps"]
    highest = max((n for gates in gaps.values() for n in gates.values()), default=0)
    table = Table("Cause x gate heat map", ["Cause", *GATE_LABELS.values()])
    for slug, gates in gaps.items():
        cells = []
        for gate in GATE_LABELS:
            n = gates.get(gate, 0)
            level = 0 if not n else max(1, round(HEAT_LEVELS * n / highest))
            cells.append(Cell(n, links.incidents(cause=slug, gate=gate) if n else None, f"heat-{level}"))
        table.rows.append([Cell(links.labels.cause(slug)), *cells])
    return table


def deployments_table(data: dict[str, Any], labels: Labels = NO_LABELS) -> Table:
    deployments = data["deployments"]
    table = Table(
        f"Deployments (change failure rate {percent(deployments['change_failure_rate'])}, rollbacks"
        f" {deployments['rollbacks']}, of which rehearsed {deployments['rollbacks_rehearsed']})",
        ["Environment", "Deployments"],
    )
    for slug, n in deployments["per_environment"].items():
        table.rows.append([Cell(labels.environment(slug)), Cell(n)])
    return table


def repeat_offenders_tables(data: dict[str, Any], links: Links) -> list[Table]:
    services = Table("Services named by two or more items this week", ["Service", "Items"])
    for row in data["repeat_offenders"]["services"]:
        services.rows.append(
            [
                Cell(links.labels.service(row["service"])),
                Cell(row["count"], links.incidents(service=row["service"])),
            ]
        )
    causes = Table("Causes named by two or more items this week", ["Cause", "Items"])
    for row in data["repeat_offenders"]["causes"]:
        causes.rows.append(
            [Cell(links.labels.cause(row["cause"])), Cell(row["count"], links.incidents(cause=row["cause"]))]
        )
    return [services, causes]


def fixes_table(data: dict[str, Any], labels: Labels = NO_LABELS) -> Table:
    table = Table("Fixes that did not stick", ["Item", "Cause", "Service", "Completed action item"])
    for row in data["fixes_not_sticking"]:
        href = reverse("incidents:incident_detail", args=[row["number"]])
        table.rows.append(
            [
                Cell(row["number"], href),
                Cell(labels.cause(row["cause"])),
                Cell(labels.service(row["service"])),
                Cell(f"#{row['action_item']}"),
            ]
        )
    return table


def report_tables(data: dict[str, Any], labels: Labels = NO_LABELS) -> dict[str, Any]:
    links = report_links(data, labels=labels)
    return {
        "counts": counts_table(data, links),
        "causes": causes_table(data, links),
        "caught_in": caught_in_table(data, links),
        "caught_by": caught_by_table(data, links),
        "durations": durations_table(data, links),
        "gate_gaps": gate_gaps_table(data, links),
        "deployments": deployments_table(data, labels),
        "repeat_offenders": repeat_offenders_tables(data, links),
        "fixes": fixes_table(data, labels),
    }


# ---------------------------------------------------------------------------------------------------------
# CSV export: one row per number, in long form (section, series, key, week, value).

CSV_HEADER = ["section", "series", "key", "week", "value"]


def report_csv_rows(data: dict[str, Any]) -> Iterator[list[Any]]:
    weeks, week = data["weeks"], data["week"]
    yield ["report", "audience", "", week, data.get("audience", "everyone")]
    for key, n in data.get("confidential_near_misses", {}).items():  # only in the confidential report
        yield ["report", "confidential_near_misses", key, week, n]
    for sev in SEVERITIES:
        for label, n in zip(weeks, data["counts"]["incidents"][sev], strict=True):
            yield ["counts", "incidents", sev, label, n]
    for label, n in zip(weeks, data["counts"]["near_misses"], strict=True):
        yield ["counts", "near_misses", "", label, n]
    for label, share in zip(weeks, data["counts"]["near_miss_share"], strict=True):
        yield ["counts", "near_miss_share", "", label, "" if share is None else share]
    for slug, counts in data["causes"]["per_week"].items():
        for label, n in zip(weeks, counts, strict=True):
            yield ["causes", "per_week", slug, label, n]
    for row in data["causes"]["top"]:
        yield ["causes", "top", row["cause"], week, row["count"]]
    for slug in data["causes"]["rising"]:
        yield ["causes", "rising", slug, week, data["causes"]["per_week"][slug][-1]]
    for slug, n in data["environments"]["caught_in"].items():
        yield ["environments", "caught_in", slug, week, n]
    yield ["environments", "escape_rate", "", week, _blank(data["environments"]["escape_rate"])]
    deployments = data["deployments"]
    for slug, n in deployments["per_environment"].items():
        yield ["deployments", "per_environment", slug, week, n]
    for key in ("change_failure_rate", "rollbacks", "rollbacks_rehearsed"):
        yield ["deployments", key, "", week, _blank(deployments[key])]
    for measure, by_severity in data["durations"].items():
        for sev, values in by_severity.items():
            for statistic, seconds in values.items():
                yield ["durations", f"{measure}_{statistic}_seconds", sev, week, _blank(seconds)]
    for key, n in data["action_items"].items():
        yield ["action_items", key, "", week, n]
    for value, n in data["caught_by"].items():
        yield ["caught_by", value, "", week, n]
    for row in data["repeat_offenders"]["services"]:
        yield ["repeat_offenders", "services", row["service"], week, row["count"]]
    for row in data["repeat_offenders"]["causes"]:
        yield ["repeat_offenders", "causes", row["cause"], week, row["count"]]
    for row in data["fixes_not_sticking"]:
        yield [
            "fixes_not_sticking",
            row["number"],
            f"{row['cause']} on {row['service']}",
            week,
            row["action_item"],
        ]
    for slug, gates in data["gate_gaps"].items():
        for gate, n in gates.items():
            yield ["gate_gaps", slug, gate, week, n]
    if data["archive_pick"]:
        pick = data["archive_pick"]
        yield ["archive_pick", pick["number"], pick["title"], week, pick["url"]]


def _blank(value: Any) -> Any:
    return "" if value is None else value
