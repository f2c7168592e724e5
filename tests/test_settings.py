"""The settings helpers accept well-formed values and stop start-up, naming the variable, on anything else."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import (
    env_bool,
    env_choice,
    env_database,
    env_int,
    env_list,
    env_redis_url,
    env_time,
    env_timezone,
    env_weekday,
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("raw", "expected"), [("true", True), ("YES", True), ("1", True), ("off", False), ("0", False)]
)
def test_env_bool_reads_common_spellings(raw, expected):
    assert env_bool("DEBUG", not expected, environ={"DEBUG": raw}) is expected


def test_env_bool_uses_default_when_unset_or_blank():
    assert env_bool("DEBUG", True, environ={}) is True
    assert env_bool("DEBUG", False, environ={"DEBUG": "  "}) is False


@pytest.mark.parametrize(
    ("helper", "name", "raw"),
    [
        (lambda e: env_bool("DEBUG", False, environ=e), "DEBUG", "ture"),
        (lambda e: env_int("EMAIL_PORT", 25, minimum=1, maximum=65535, environ=e), "EMAIL_PORT", "25x"),
        (lambda e: env_int("EMAIL_PORT", 25, minimum=1, maximum=65535, environ=e), "EMAIL_PORT", "70000"),
        (lambda e: env_list("ALLOWED_HOSTS", environ=e), "ALLOWED_HOSTS", "a.example,,b.example"),
        (lambda e: env_time("REPORT_TIME", "07:00", environ=e), "REPORT_TIME", "25:00"),
        (lambda e: env_time("REPORT_TIME", "07:00", environ=e), "REPORT_TIME", "7am"),
        (lambda e: env_weekday("REPORT_WEEKDAY", "monday", environ=e), "REPORT_WEEKDAY", "someday"),
        (lambda e: env_timezone("TIME_ZONE", "UTC", environ=e), "TIME_ZONE", "Mars/Olympus"),
        (lambda e: env_database("DATABASE_URL", "sqlite://", environ=e), "DATABASE_URL", "mysql://x/y"),
        (lambda e: env_database("DATABASE_URL", "sqlite://", environ=e), "DATABASE_URL", "postgres://host:port"),
        (lambda e: env_redis_url("REDIS_URL", environ=e), "REDIS_URL", "localhost:6379"),
        (lambda e: env_choice("LOG_LEVEL", "INFO", ["INFO", "DEBUG"], environ=e), "LOG_LEVEL", "LOUD"),
    ],
)
def test_malformed_values_are_rejected_with_the_variable_named(helper, name, raw):
    with pytest.raises(ImproperlyConfigured, match=name):
        helper({name: raw})


def test_well_formed_values_are_parsed():
    assert env_int("EMAIL_PORT", 25, environ={"EMAIL_PORT": "587"}) == 587
    assert env_list("ALLOWED_HOSTS", environ={"ALLOWED_HOSTS": "a.example, b.example"}) == [
        "a.example",
        "b.example",
    ]
    assert env_time("REPORT_TIME", "07:00", environ={"REPORT_TIME": "6:45"}) == dt.time(6, 45)
    assert env_weekday("REPORT_WEEKDAY", "monday", environ={}) == 1
    assert env_weekday("REPORT_WEEKDAY", "monday", environ={"REPORT_WEEKDAY": "Sunday"}) == 0
    assert env_timezone("TIME_ZONE", "UTC", environ={"TIME_ZONE": "Europe/Paris"}) == "Europe/Paris"
    assert (
        env_redis_url("REDIS_URL", environ={"REDIS_URL": "redis://127.0.0.1:6379/2"}) == "redis://127.0.0.1:6379/2"
    )
    database = env_database(
        "DATABASE_URL", "sqlite://", environ={"DATABASE_URL": "postgres://u@db.example:5433/hs"}
    )
    assert (database["ENGINE"], database["HOST"], database["PORT"], database["NAME"]) == (
        "django.db.backends.postgresql", "db.example", 5433, "hs",
    )  # fmt: skip


def _start(env_overrides: dict[str, str]) -> subprocess.CompletedProcess:
    env = {
        key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY"}
    }
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_start_up_stops_on_a_malformed_variable_and_names_it(tmp_path):
    result = _start({"DEBUG": "true", "HINDSIGHT_VAR_DIR": str(tmp_path), "DATABASE_URL": "mysql://nope"})
    assert result.returncode != 0
    assert "DATABASE_URL='mysql://nope' is not valid" in result.stderr


def test_secret_key_is_required_when_debug_is_off(tmp_path):
    result = _start({"DEBUG": "false", "HINDSIGHT_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_defaults_start_without_database_or_broker(tmp_path):
    result = _start({"DEBUG": "true", "HINDSIGHT_VAR_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout
    assert (tmp_path / "celery" / "broker").is_dir()
