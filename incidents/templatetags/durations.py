"""`{% duration start end %}`: the time between two moments, readable ("1 h 12 min"), for the incident page."""

from __future__ import annotations

import datetime as dt

from django import template

register = template.Library()


def readable_duration(delta: dt.timedelta) -> str:
    """Days, hours and minutes, the two largest that are not zero: "45 min", "1 h 12 min", "3 d 4 h"."""
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return "under a minute" if delta.total_seconds() >= 0 else ""
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{value} {unit}" for value, unit in ((days, "d"), (hours, "h"), (minutes, "min")) if value]
    return " ".join(parts[:2])


@register.simple_tag
def duration(start: dt.datetime | None, end: dt.datetime | None) -> str:
    """The readable time from `start` to `end`; empty when either is missing or `end` is before `start`."""
    if start is None or end is None or end < start:
        return ""
    return readable_duration(end - start)
