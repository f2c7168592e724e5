"""What the tests that start real processes (Celery workers) share: the database those processes must use."""

from __future__ import annotations

import os

import dj_database_url
import pytest
from django.db import connection

requires_postgresql_url = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")),
    reason="DATABASE_URL is not PostgreSQL: the worker must share the test database with this process",
)


def test_database_url() -> str:
    """DATABASE_URL with the name of the test database pytest-django created (test_<name>)."""
    config = dj_database_url.parse(os.environ["DATABASE_URL"])
    password = f":{config['PASSWORD']}" if config.get("PASSWORD") else ""
    name = connection.settings_dict["NAME"]
    return f"postgres://{config['USER']}{password}@{config['HOST']}:{config['PORT']}/{name}"


test_database_url.__test__ = False  # a helper, not a test
