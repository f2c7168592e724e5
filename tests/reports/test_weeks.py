"""ISO weeks in TIME_ZONE: labels, bounds at year boundaries, "last week" from a frozen clock."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from incidents.weeks import Week


@pytest.mark.parametrize(
    ("label", "monday"),
    [
        ("2020-W53", dt.date(2020, 12, 28)),
        ("2021-W01", dt.date(2021, 1, 4)),
        ("2026-W01", dt.date(2025, 12, 29)),
        ("2026-W47", dt.date(2026, 11, 16)),
        ("2026-W53", dt.date(2026, 12, 28)),
    ],
)
def test_iso_week_labels_round_trip_at_year_boundaries(label, monday):
    week = Week.parse(label)
    assert week.monday == monday and week.label == label


@pytest.mark.parametrize(
    ("label", "message"),
    [("2021-W53", "2021 has no week 53"), ("2026-47", "not an ISO week"), ("", "not an ISO week")],
)
def test_bad_week_labels_are_refused_with_a_reason(label, message):
    with pytest.raises(ValidationError, match=message):
        Week.parse(label)


def test_window_is_thirteen_weeks_oldest_first_across_the_year():
    labels = [week.label for week in Week.parse("2021-W01").window()]
    assert labels[0] == "2020-W42" and labels[-2:] == ["2020-W53", "2021-W01"] and len(labels) == 13


def test_week_bounds_are_local_midnights(settings):
    settings.TIME_ZONE = "America/New_York"
    timezone.deactivate()
    week = Week.parse("2026-W01")
    assert week.start == dt.datetime(2025, 12, 29, 5, 0, tzinfo=dt.UTC)
    assert week.end == dt.datetime(2026, 1, 5, 5, 0, tzinfo=dt.UTC)


def test_week_across_a_daylight_saving_change_lasts_until_the_next_local_monday(settings):
    settings.TIME_ZONE = "Europe/Paris"
    timezone.deactivate()
    week = Week.parse("2026-W13")  # clocks go forward on Sunday 29 March 2026
    assert week.start == dt.datetime(2026, 3, 22, 23, 0, tzinfo=dt.UTC)
    assert week.end == dt.datetime(2026, 3, 29, 22, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("zone", "expected"),
    [("UTC", "2026-W01"), ("Pacific/Auckland", "2026-W02")],  # Sunday 23:30 UTC is Monday in Auckland
)
def test_last_week_depends_on_the_configured_time_zone(settings, zone, expected):
    settings.TIME_ZONE = zone
    timezone.deactivate()
    with time_machine.travel(dt.datetime(2026, 1, 11, 23, 30, tzinfo=dt.UTC), tick=False):
        assert Week.last().label == expected
