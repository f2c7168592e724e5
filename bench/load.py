"""Loading N incidents in seed_demo's shape at a fixed weekly rate, newest weeks first.

The first tenth of N is the recent history (RECENT_WEEKS weeks up to `now`); the rest goes into the weeks
before it at the same rate. So the report's 13 weeks hold the same rows at N/10 and at N, and P3 measures
what ten times more older history costs.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from django.db import connection

from incidents.demo import seed_demo
from incidents.weeks import Week

RECENT_WEEKS = 52


@dataclass
class Loaded:
    incidents: int
    seconds: float


def load_now() -> dt.datetime:
    """The end of the loaded history: the start of the current week, so the last full week is the report's."""
    return Week.current().start


def report_week() -> Week:
    return Week.current().shifted(-1)


def recent_share(total: int) -> int:
    return total // 10


def load_recent(total: int, *, now: dt.datetime | None = None) -> Loaded:
    """The newest tenth of `total`, over the RECENT_WEEKS weeks before `now`."""
    count = recent_share(total)
    began = time.monotonic()
    seed_demo(incidents=count, weeks=RECENT_WEEKS, seed=1, now=now or load_now())
    return Loaded(count, time.monotonic() - began)


def load_older(total: int, *, now: dt.datetime | None = None) -> Loaded:
    """The other nine tenths, at the same weekly rate, in the weeks before the recent history."""
    recent = recent_share(total)
    count = total - recent
    weeks = max(1, round(RECENT_WEEKS * count / max(recent, 1)))
    end = (now or load_now()) - dt.timedelta(weeks=RECENT_WEEKS)
    began = time.monotonic()
    seed_demo(incidents=count, weeks=weeks, seed=2, now=end)
    return Loaded(count, time.monotonic() - began)


def analyze() -> None:
    """Fresh statistics and visibility maps after a bulk load, as autovacuum would give them in time."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE)")
