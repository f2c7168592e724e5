"""The report's charts: SVG drawn on the server by pygal from the stored data, each bar a link to the incident
list filtered to what it counts.

Charts are inlined in the page, so they are made safe for a Content-Security-Policy without 'unsafe-inline':
no script (pygal's JavaScript is switched off), no <style> element and no style attribute. Their look comes
from static/reports/charts.css. The same SVG, with pygal's own style embedded, is the chart export.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET  # parses only the SVG that pygal drew, never input  # nosec B405
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, overload
from urllib.parse import urlencode

import pygal
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from pygal.style import Style
from pygal.util import text_len

from incidents.models import Incident, IncidentCause
from incidents.report_summary import NO_LABELS, SEVERITIES, Labels
from incidents.weeks import Week

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
ET.register_namespace("", SVG_NS)
ET.register_namespace("xlink", XLINK_NS)

STYLE = Style(
    background="transparent",
    plot_background="#ffffff",
    foreground="#1f2933",
    foreground_strong="#1f2933",
    foreground_subtle="#52606d",  # 6.3:1 on white (WCAG AA needs 4.5:1 for text)
    font_family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    colors=(
        "#b42318",
        "#dc6803",
        "#eaaa08",
        "#6c8ebf",
        "#2e7d32",
        "#6941c6",
        "#0e9384",
        "#c11574",
        "#475467",
        "#854a0e",
        "#3538cd",
        "#7a2e0e",
        "#4e5ba6",
    ),
)
CHART_OPTIONS: dict[str, Any] = {
    "style": STYLE,
    "js": [],
    "disable_xml_declaration": True,
    "legend_at_bottom": True,
    "legend_at_bottom_columns": 5,
    "width": 800,
    "height": 360,
    "truncate_label": -1,
    "truncate_legend": -1,
    "print_zeroes": False,
    "margin": 12,
    "min_scale": 1,
    "max_scale": 8,
}
# The causes chart draws the most frequent causes of the 13 weeks and adds up the rest as "Other".
TOP_CAUSES = 5
OTHER = "Other"
LEGEND_FONT_SIZE = 14
LEGEND_BOX = 12
SEVERITY_LABELS = dict(Incident.Severity.choices)
GATE_LABELS = dict(IncidentCause.Gate.choices)
CAUGHT_BY_LABELS = dict(Incident.CaughtBy.choices)


@dataclass(frozen=True)
class Chart:
    name: str
    title: str
    svg: SafeString


class Links:
    """URLs of the incident list filtered to what a bar counts: counted items of the scope in a week."""

    def __init__(
        self, *, weeks: list[Week], team_slug: str | None, base: str = "", labels: Labels = NO_LABELS
    ) -> None:
        self.weeks = {week.label: week for week in weeks}
        self.report_week = weeks[-1]
        self.team_slug = team_slug
        self.base = base
        self.labels = labels  # the names of the slugs, for legends and axes

    def incidents(self, week: Week | str | None = None, **filters: Any) -> str:
        week = self.weeks[week] if isinstance(week, str) else week or self.report_week
        params: dict[str, Any] = {"counted": "true", **{k: v for k, v in filters.items() if v is not None}}
        params["started_from"] = week.monday.isoformat()
        params["started_to"] = week.sunday.isoformat()
        if self.team_slug:
            params["team"] = self.team_slug
        return f"{self.base}{reverse('incidents:incident_list')}?{urlencode(params, doseq=True)}"


def _bar(value: int | float | None, href: str | None, label: str) -> dict[str, Any]:
    bar: dict[str, Any] = {"value": value, "label": label}
    if href:
        bar["xlink"] = {"href": href, "target": "_top"}
    return bar


def _legend_options(titles: list[str], *, plot_width: int = 600) -> dict[str, Any]:
    """Legend columns wide enough for the longest title, so that no legend is cut off at the chart's edge.
    `plot_width` is a low estimate of the width pygal leaves for the plot (the chart less its axis labels)."""
    longest = max((len(title) for title in titles), default=1)
    column = text_len(longest, LEGEND_FONT_SIZE) + LEGEND_BOX + 16
    return {"legend_at_bottom_columns": max(1, min(len(titles) or 1, int(plot_width // column)))}


def _options(titles: list[str], **overrides: Any) -> dict[str, Any]:
    plot_width = overrides.pop("plot_width", 600)
    return {**CHART_OPTIONS, **_legend_options(titles, plot_width=plot_width), **overrides}


def _clean_svg(svg: str) -> SafeString:
    """Drop pygal's <style>, style attributes, tooltips and comments; keep shapes, titles and links."""
    root = ET.fromstring(svg)  # noqa: S314 - pygal's own output, not user input  # nosec B314
    for parent in list(root.iter()):
        descriptions = {}
        for child in list(parent):
            tag = child.tag.split("}")[-1] if isinstance(child.tag, str) else ""
            if tag == "desc":  # pygal's data for its JavaScript tooltips; a <title> shows it on hover
                descriptions[child.get("class")] = child.text or ""
                parent.remove(child)
            elif tag in {"style", "script"} or "tooltip" in (child.get("class") or "").split():
                parent.remove(child)
        if "value" in descriptions:
            title = ET.SubElement(parent, f"{{{SVG_NS}}}title")
            title.text = f"{descriptions.get('label', '')}: {descriptions['value']}".strip(": ")
        parent.attrib.pop("style", None)
    root.set("class", f"{root.get('class', '')} report-chart".strip())
    root.set("role", "img")
    root.attrib.pop("id", None)
    return mark_safe(ET.tostring(root, encoding="unicode"))  # noqa: S308 - built by pygal from escaped text  # nosec B308 B703


@overload
def _render(chart: pygal.graph.graph.Graph, *, standalone: Literal[True]) -> str: ...
@overload
def _render(chart: pygal.graph.graph.Graph, *, standalone: Literal[False]) -> SafeString: ...
def _render(chart: pygal.graph.graph.Graph, *, standalone: bool) -> str:
    """The chart as a standalone SVG document, or cleaned to inline in a page (safe to mark up)."""
    svg = chart.render(is_unicode=True)
    return svg if standalone else _clean_svg(svg)


def _weeks_axis(data: dict[str, Any]) -> list[str]:
    return [label.split("-")[1] for label in data["weeks"]]  # "W47": the year is in the table


def counts_chart(data: dict[str, Any], links: Links) -> pygal.StackedBar:
    titles = [SEVERITY_LABELS[severity] for severity in SEVERITIES] + ["Near-misses"]
    chart = pygal.StackedBar(title="Incidents by severity and near-misses per week", **_options(titles))
    chart.x_labels = _weeks_axis(data)
    for severity in SEVERITIES:
        chart.add(
            SEVERITY_LABELS[severity],
            [
                _bar(count, links.incidents(week, kind="incident", severity=severity), week)
                for week, count in zip(data["weeks"], data["counts"]["incidents"][severity], strict=True)
            ],
        )
    chart.add(
        "Near-misses",
        [
            _bar(count, links.incidents(week, kind="near_miss"), week)
            for week, count in zip(data["weeks"], data["counts"]["near_misses"], strict=True)
        ],
    )
    return chart


def top_causes(data: dict[str, Any], limit: int = TOP_CAUSES) -> tuple[list[str], list[int]]:
    """The `limit` causes named most often in the 13 weeks (ties by slug), and the per-week sums of the others
    (all zeros when there are no others)."""
    per_week = data["causes"]["per_week"]
    ranked = sorted(per_week, key=lambda slug: (-sum(per_week[slug]), slug))
    top, rest = ranked[:limit], ranked[limit:]
    other = [sum(per_week[slug][index] for slug in rest) for index in range(len(data["weeks"]))]
    return top, other


def causes_chart(data: dict[str, Any], links: Links) -> pygal.StackedBar:
    """The top causes per week and one "Other" series for the rest (the table under it lists every cause). An
    "Other" bar has no link: the incident list cannot filter on "none of these causes"."""
    top, other = top_causes(data)
    titles = [links.labels.cause(slug) for slug in top] + ([OTHER] if any(other) else [])
    chart = pygal.StackedBar(
        title=f"Top {TOP_CAUSES} causes per week (items naming each cause)", **_options(titles, height=400)
    )
    chart.x_labels = _weeks_axis(data)
    for slug in top:
        chart.add(
            links.labels.cause(slug),
            [
                _bar(count, links.incidents(week, cause=slug), week)
                for week, count in zip(data["weeks"], data["causes"]["per_week"][slug], strict=True)
            ],
        )
    if any(other):
        chart.add(OTHER, [_bar(count, None, week) for week, count in zip(data["weeks"], other, strict=True)])
    return chart


def caught_in_chart(data: dict[str, Any], links: Links) -> pygal.Bar:
    chart = pygal.Bar(title="Where this week's items were caught", show_legend=False, **CHART_OPTIONS)
    caught_in = data["environments"]["caught_in"]
    chart.x_labels = [links.labels.environment(slug) for slug in caught_in]
    chart.add(
        "Items",
        [
            _bar(n, links.incidents(environment=slug), links.labels.environment(slug))
            for slug, n in caught_in.items()
        ],
    )
    return chart


def caught_by_chart(data: dict[str, Any], links: Links) -> pygal.HorizontalBar:
    chart = pygal.HorizontalBar(title="How this week's items were caught", show_legend=False, **CHART_OPTIONS)
    chart.x_labels = [CAUGHT_BY_LABELS.get(value, value) for value in data["caught_by"]]
    chart.add(
        "Items",
        [
            _bar(n, links.incidents(caught_by=value), CAUGHT_BY_LABELS.get(value, value))
            for value, n in data["caught_by"].items()
        ],
    )
    return chart


def _durations_chart(data: dict[str, Any], links: Links, measure: str, title: str) -> pygal.Bar:
    chart = pygal.Bar(title=f"{title} (minutes)", **_options(["Median", "90th percentile"]))
    chart.x_labels = [severity.upper() for severity in SEVERITIES]
    values = data["durations"][measure]
    for statistic, label in (("median", "Median"), ("p90", "90th percentile")):
        chart.add(
            label,
            [
                _bar(
                    None if values[sev][statistic] is None else round(values[sev][statistic] / 60, 1),
                    links.incidents(kind="incident", severity=sev),
                    sev.upper(),
                )
                for sev in SEVERITIES
            ],
        )
    return chart


def time_to_detect_chart(data: dict[str, Any], links: Links) -> pygal.Bar:
    return _durations_chart(data, links, "time_to_detect", "Time to detect")


def time_to_restore_chart(data: dict[str, Any], links: Links) -> pygal.Bar:
    return _durations_chart(data, links, "time_to_restore", "Time to restore")


def gate_gaps_chart(data: dict[str, Any], links: Links) -> pygal.HorizontalStackedBar:
    gaps = data["gate_gaps"]
    names = [links.labels.cause(slug) for slug in gaps]
    # The cause names on the y axis take part of the width from the plot (and from the legend under it).
    axis = text_len(max((len(name) for name in names), default=0), 10)
    options = _options(list(GATE_LABELS.values()), plot_width=int(CHART_OPTIONS["width"] - 60 - axis))
    chart = pygal.HorizontalStackedBar(title="Which gate should have caught each cause", **options)
    chart.x_labels = names
    for gate, label in GATE_LABELS.items():
        chart.add(
            label,
            [
                _bar(gaps[slug].get(gate, 0), links.incidents(cause=slug, gate=gate), name)
                for slug, name in zip(gaps, names, strict=True)
            ],
        )
    return chart


CHARTS: dict[str, tuple[str, Callable[[dict[str, Any], Links], pygal.graph.graph.Graph]]] = {
    "counts": ("Incidents and near-misses", counts_chart),
    "causes": ("Causes", causes_chart),
    "caught-in": ("Where problems were caught", caught_in_chart),
    "caught-by": ("Caught by", caught_by_chart),
    "time-to-detect": ("Time to detect", time_to_detect_chart),
    "time-to-restore": ("Time to restore", time_to_restore_chart),
    "gate-gaps": ("Gate gaps", gate_gaps_chart),
}


def report_links(data: dict[str, Any], *, base: str = "", labels: Labels = NO_LABELS) -> Links:
    weeks = [Week.parse(label) for label in data["weeks"]]
    team_slug = data["scope"].removeprefix("team:") if data["scope"].startswith("team:") else None
    return Links(weeks=weeks, team_slug=team_slug, base=base, labels=labels)


def report_charts(data: dict[str, Any], labels: Labels = NO_LABELS) -> dict[str, Chart]:
    """Every chart of a report, ready to inline in a page, keyed by name with underscores (for templates)."""
    links = report_links(data, labels=labels)
    return {
        name.replace("-", "_"): Chart(name=name, title=title, svg=_render(build(data, links), standalone=False))
        for name, (title, build) in CHARTS.items()
    }


def chart_svg(data: dict[str, Any], name: str, *, base: str = "", labels: Labels = NO_LABELS) -> str:
    """One chart as a standalone SVG document with its style embedded (the chart export); KeyError if unknown."""
    _title, build = CHARTS[name]
    return _render(build(data, report_links(data, base=base, labels=labels)), standalone=True)
