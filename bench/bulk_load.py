"""P6, bulk load: the bulk loader's rows per second against PostgreSQL COPY of the same rows into the same
tables.

Inside one transaction that is rolled back: the loader adds a batch (incidents and every row hanging off
them), the new rows of each table are read out with COPY TO, deleted, and written back with COPY FROM.
Both sides write the same rows into the same tables with the same indexes and constraints.
"""

from __future__ import annotations

import datetime as dt
import time

from django.db import connection, transaction

from incidents.demo import seed_demo
from incidents.models import (
    ActionItem,
    ConfidentialReporter,
    Deployment,
    Incident,
    IncidentCause,
    Release,
    TimelineEntry,
)

# Parents first (for COPY FROM); deleted in the reverse order.
TABLES = [
    Release,
    Deployment,
    Incident,
    Incident.services.through,
    Incident.releases.through,
    IncidentCause,
    TimelineEntry,
    ActionItem,
    ConfidentialReporter,
]


class _Rollback(Exception):
    pass


def _max_ids() -> dict[str, int]:
    with connection.cursor() as cursor:
        result = {}
        for model in TABLES:
            table = model._meta.db_table
            cursor.execute(f'SELECT coalesce(max(id), 0) FROM "{table}"')  # noqa: S608  # nosec B608
            result[table] = cursor.fetchone()[0]
    return result


def loader_and_copy(*, incidents: int, now: dt.datetime, seed: int) -> tuple[int, float, float]:
    """(rows written, loader seconds, COPY seconds) for one batch of `incidents`; nothing is kept."""
    timings: list[float] = []
    rows = 0
    try:
        with transaction.atomic():
            before = _max_ids()
            began = time.perf_counter()
            seed_demo(incidents=incidents, weeks=4, seed=seed, now=now)
            timings.append(time.perf_counter() - began)
            dumps: dict[str, bytes] = {}
            with connection.cursor() as cursor:
                for model in TABLES:
                    table = model._meta.db_table
                    buffer = bytearray()
                    select = f'SELECT * FROM "{table}" WHERE id > {before[table]}'  # noqa: S608  # nosec B608
                    with cursor.copy(f"COPY ({select}) TO STDOUT") as copy:
                        for chunk in copy:
                            buffer += chunk
                    dumps[table] = bytes(buffer)
                    rows += buffer.count(b"\n")
                for model in reversed(TABLES):
                    table = model._meta.db_table
                    cursor.execute(f'DELETE FROM "{table}" WHERE id > %s', [before[table]])  # noqa: S608  # nosec B608
                began = time.perf_counter()
                for model in TABLES:
                    table = model._meta.db_table
                    with cursor.copy(f'COPY "{table}" FROM STDIN') as copy:
                        copy.write(dumps[table])
                timings.append(time.perf_counter() - began)
            raise _Rollback
    except _Rollback:
        pass
    return rows, timings[0], timings[1]
