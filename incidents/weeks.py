"""ISO weeks in the configured time zone: labels such as 2026-W47 and their local Monday-to-Monday bounds.

The one week of Hindsight: the home page's "this week", the report pages, the API's `week`, the tasks and the
stored reports all use `Week`. A leaf module: it imports nothing of the project but the shared limits."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils import timezone

from incidents.limits import DATE_RANGE_TEXT, FIRST_YEAR, LAST_YEAR, YEAR_PATTERN

WEEK_PATTERN = re.compile(r"^(\d{4})-W(\d{2})$")
# What the API's schema says of a week: the shape, in the accepted years (another year is a 400).
WEEK_SCHEMA_PATTERN = YEAR_PATTERN + r"W[0-9]{2}$"
REPORT_WEEKS = 13  # the report's week and the 12 weeks before it


class NoSuchWeek(ValidationError):
    """A well-formed label, within the years Hindsight accepts, that names no week (2021-W53)."""


@dataclass(frozen=True, order=True)
class Week:
    """One ISO week, identified by its Monday."""

    monday: dt.date

    def __post_init__(self) -> None:
        if self.monday.isoweekday() != 1:
            raise ValueError(f"{self.monday} is not a Monday")

    @classmethod
    def parse(cls, label: str) -> Week:
        """`2026-W47` → Week; a ValidationError naming the problem otherwise."""
        match = WEEK_PATTERN.match(label.strip()) if isinstance(label, str) else None
        if not match:
            raise ValidationError({"week": f"{label!r} is not an ISO week such as 2026-W47."})
        year, number = int(match.group(1)), int(match.group(2))
        if not FIRST_YEAR <= year <= LAST_YEAR:
            raise ValidationError({"week": f"Give a week {DATE_RANGE_TEXT}, such as 2026-W47."})
        try:
            monday = dt.date.fromisocalendar(year, number, 1)
        except ValueError:
            raise NoSuchWeek({"week": f"{year} has no week {number}."}) from None
        return cls(monday)

    @classmethod
    def containing(cls, day: dt.date) -> Week:
        return cls(day - dt.timedelta(days=day.isoweekday() - 1))

    @classmethod
    def current(cls) -> Week:
        """The week that holds the present moment in TIME_ZONE."""
        return cls.containing(timezone.localdate())

    @classmethod
    def last(cls) -> Week:
        """The most recent complete week."""
        return cls.current().shifted(-1)

    @property
    def label(self) -> str:
        year, number, _ = self.monday.isocalendar()
        return f"{year}-W{number:02d}"

    @property
    def sunday(self) -> dt.date:
        return self.monday + dt.timedelta(days=6)

    @property
    def start(self) -> dt.datetime:
        """Monday 00:00 local time, as an aware datetime."""
        return local_midnight(self.monday)

    @property
    def end(self) -> dt.datetime:
        """The next Monday 00:00 local time (exclusive)."""
        return local_midnight(self.monday + dt.timedelta(days=7))

    def shifted(self, weeks: int) -> Week:
        return Week(self.monday + dt.timedelta(weeks=weeks))

    def window(self, count: int = REPORT_WEEKS) -> list[Week]:
        """This week and the `count - 1` weeks before it, oldest first."""
        return [self.shifted(offset) for offset in range(1 - count, 1)]

    def __str__(self) -> str:
        return self.label


def local_midnight(day: dt.date) -> dt.datetime:
    """00:00 of `day` in TIME_ZONE. Midnight exists on every day in the zones Hindsight supports; where a
    zone skips it, zoneinfo resolves the gap forwards."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))
