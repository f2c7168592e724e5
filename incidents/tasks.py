"""Thin Celery tasks: each takes ids or ISO dates and calls one service."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="incidents.healthcheck")
def healthcheck(nonce: str) -> dict[str, str]:
    """Proves a worker is consuming from the broker and can reach the database."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        (one,) = cursor.fetchone()
    return {"nonce": nonce, "database": connection.vendor, "select": str(one)}
