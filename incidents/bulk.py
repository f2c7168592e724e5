"""Fast bulk loading for synthetic data and benchmarks: plain multi-row inserts (COPY on PostgreSQL).

Rows bypass model instances entirely, so the database still checks every constraint but Python does
almost no work per row. Only for loaders; the application writes through services.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection, models, transaction

CHUNK = 2000


def reserve_ids(model: type[models.Model], count: int) -> list[int]:
    """Primary keys for `count` new rows, safe beside other writers on PostgreSQL.

    On SQLite the surrounding transaction holds the write lock, so the next ids are free to take.
    """
    if count == 0:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, count]
            )
            return [row[0] for row in cursor.fetchall()]
        if not transaction.get_connection().in_atomic_block:
            raise RuntimeError("reserve_ids needs a transaction on SQLite.")
        cursor.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{table}"')  # noqa: S608 - table name from the model  # nosec B608
        (last,) = cursor.fetchone()
    return list(range(last + 1, last + 1 + count))


def _preparer(field: models.Field):
    if isinstance(field, models.DateTimeField):
        return connection.ops.adapt_datetimefield_value
    if isinstance(field, models.DateField):
        return connection.ops.adapt_datefield_value
    if isinstance(field, models.JSONField):
        return lambda value: field.get_db_prep_save(value, connection)
    return None


def _column_field(model: type[models.Model], name: str) -> tuple[models.Field, str]:
    """The field of `model` behind the attribute `name`, and its database column."""
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field) or field.column is None:
        raise ValueError(f"{model._meta.label}.{name} is not a database column.")
    return field, field.column


def insert_rows(model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Insert tuples whose values follow `columns` (attribute names such as team_id). Returns the count."""
    fields = [_column_field(model, name) for name in columns]
    preparers = [(index, prepare) for index, (field, _) in enumerate(fields) if (prepare := _preparer(field))]
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(column) for _, column in fields)

    def prepared() -> Iterable[list[Any]]:
        for row in rows:
            values = list(row)
            for index, prepare in preparers:
                if values[index] is not None:
                    values[index] = prepare(values[index])
            yield values

    count = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for values in prepared():
                    copy.write_row(values)
                    count += 1
            return count
        placeholders = ", ".join(["%s"] * len(fields))
        sql = f"INSERT INTO {table} ({names}) VALUES ({placeholders})"  # noqa: S608 - names from the model  # nosec B608
        chunk: list[list[Any]] = []
        for values in prepared():
            chunk.append(values)
            if len(chunk) == CHUNK:
                cursor.executemany(sql, chunk)
                count, chunk = count + len(chunk), []
        if chunk:
            cursor.executemany(sql, chunk)
            count += len(chunk)
    return count
