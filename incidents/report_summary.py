"""What a reader takes away from a report's data: key numbers, what changed, what needs attention.

Works on the stored JSON alone (no queries), so the web page and the e-mail digest say the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SEVERITIES = ("sev1", "sev2", "sev3", "sev4")
MAX_FIXES_LISTED = 3


@dataclass(frozen=True)
class KeyNumber:
    label: str
    value: str
    change: str = ""


@dataclass(frozen=True)
class Labels:
    """Readable names for the slugs a report's data holds (causes, environments, services); a slug without a
    name (since renamed or deleted) is shown as it is. Built by selectors.reports.report_labels."""

    causes: dict[str, str] = field(default_factory=dict)
    environments: dict[str, str] = field(default_factory=dict)
    services: dict[str, str] = field(default_factory=dict)

    def cause(self, slug: str) -> str:
        return self.causes.get(slug, slug)

    def environment(self, slug: str) -> str:
        return self.environments.get(slug, slug)

    def service(self, slug: str) -> str:
        return self.services.get(slug, slug)


NO_LABELS = Labels()


@dataclass
class Summary:
    key_numbers: list[KeyNumber] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    attention: list[str] = field(default_factory=list)


def percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.0f}%"


def duration(seconds: int | None) -> str:
    """3725 → '1h 2m'; None → 'n/a'."""
    if seconds is None:
        return "n/a"
    if seconds < 60:
        return f"{seconds}s"
    minutes, _ = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours}h"
    return f"{hours}h {minutes}m" if hours else f"{minutes}m"


def _delta(current: int, previous: int) -> str:
    if current == previous:
        return "same as the week before"
    return f"{current - previous:+d} on the week before"


def incidents_per_week(data: dict[str, Any]) -> list[int]:
    by_severity = data["counts"]["incidents"]
    return [sum(week) for week in zip(*(by_severity[severity] for severity in SEVERITIES), strict=True)]


def _changes(data: dict[str, Any], incidents: list[int], near_misses: list[int], labels: Labels) -> list[str]:
    changes = []
    if incidents[-1] != incidents[-2]:
        verb = "rose" if incidents[-1] > incidents[-2] else "fell"
        changes.append(f"Incidents {verb} from {incidents[-2]} to {incidents[-1]}.")
    if near_misses[-1] != near_misses[-2]:
        verb = "rose" if near_misses[-1] > near_misses[-2] else "fell"
        changes.append(f"Near-misses {verb} from {near_misses[-2]} to {near_misses[-1]}.")
    share = data["counts"]["near_miss_share"]
    if share[-1] is not None and share[-2] is not None and share[-1] > share[-2]:
        changes.append(
            f"The near-miss share rose from {percent(share[-2])} to {percent(share[-1])}: more problems are"
            " reported before they hurt, a healthy signal."
        )
    elif share[-1] is not None and share[-2] is not None and share[-1] < share[-2]:
        changes.append(f"The near-miss share fell from {percent(share[-2])} to {percent(share[-1])}.")
    per_week = data["causes"]["per_week"]
    for slug in data["causes"]["rising"]:
        changes.append(
            f"Rising cause: {labels.cause(slug)} ({per_week[slug][-1]} this week,"
            f" {sum(per_week[slug][:-1])} in the 12 before)."
        )
    return changes


def _attention(data: dict[str, Any], incidents_this_week: int, labels: Labels) -> list[str]:
    attention = []
    sev1 = data["counts"]["incidents"]["sev1"][-1]
    if sev1:
        attention.append(f"{sev1} SEV1 incident{'s' * (sev1 != 1)} this week.")
    items = data["action_items"]
    if items["overdue"]:
        attention.append(f"{items['overdue']} action item{'s' * (items['overdue'] != 1)} overdue.")
    if items["unowned"]:
        attention.append(f"{items['unowned']} open action item{'s' * (items['unowned'] != 1)} without an owner.")
    fixes = data["fixes_not_sticking"]
    for fix in fixes[:MAX_FIXES_LISTED]:
        attention.append(
            f"{fix['number']}: {labels.cause(fix['cause'])} on {labels.service(fix['service'])} came back after"
            f" action item"
            f" #{fix['action_item']} was completed."
        )
    if len(fixes) > MAX_FIXES_LISTED:
        attention.append(f"... and {len(fixes) - MAX_FIXES_LISTED} more fixes that did not stick.")
    deployments = data["deployments"]
    unrehearsed = deployments["rollbacks"] - deployments["rollbacks_rehearsed"]
    if unrehearsed:
        attention.append(f"{unrehearsed} rollback{'s' * (unrehearsed != 1)} had not been rehearsed.")
    luck = data["caught_by"].get("luck", 0)
    if luck:
        attention.append(f"{luck} item{'s' * (luck != 1)} caught by luck.")
    return attention


def summarise(data: dict[str, Any], labels: Labels = NO_LABELS) -> Summary:
    incidents = incidents_per_week(data)
    near_misses = data["counts"]["near_misses"]
    share = data["counts"]["near_miss_share"]
    restore = data["durations"]["time_to_restore"]
    worst = next((severity for severity in SEVERITIES if restore[severity]["median"] is not None), None)
    key_numbers = [
        KeyNumber("Incidents", str(incidents[-1]), _delta(incidents[-1], incidents[-2])),
        KeyNumber("Near-misses", str(near_misses[-1]), _delta(near_misses[-1], near_misses[-2])),
        KeyNumber("Near-miss share", percent(share[-1]), f"{percent(share[-2])} the week before"),
        KeyNumber("Prod escape rate", percent(data["environments"]["escape_rate"])),
        KeyNumber("Change failure rate", percent(data["deployments"]["change_failure_rate"])),
        KeyNumber("Overdue action items", str(data["action_items"]["overdue"])),
    ]
    if worst:
        key_numbers.append(
            KeyNumber(f"Median time to restore ({worst.upper()})", duration(restore[worst]["median"]))
        )
    return Summary(
        key_numbers=key_numbers,
        changes=_changes(data, incidents, near_misses, labels),
        attention=_attention(data, incidents[-1], labels),
    )
