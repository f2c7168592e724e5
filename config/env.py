"""Small strict readers for settings that come from the environment.

Each helper either returns a well-formed value or raises ImproperlyConfigured naming the variable, so a
typo in a deployment stops start-up instead of silently selecting a default.
"""

from __future__ import annotations

import ipaddress
import os
import re
import zoneinfo
from collections.abc import Mapping, Sequence
from datetime import time
from typing import overload

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _raw(name: str, environ: Mapping[str, str] | None) -> str | None:
    value = (os.environ if environ is None else environ).get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def _fail(name: str, value: str, expected: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"{name}={value!r} is not valid: expected {expected}.")


@overload
def env_str(name: str, default: str, *, environ: Mapping[str, str] | None = None) -> str: ...
@overload
def env_str(name: str, default: None = None, *, environ: Mapping[str, str] | None = None) -> str | None: ...
def env_str(name: str, default: str | None = None, *, environ: Mapping[str, str] | None = None) -> str | None:
    value = _raw(name, environ)
    return default if value is None else value


def env_bool(name: str, default: bool, *, environ: Mapping[str, str] | None = None) -> bool:
    value = _raw(name, environ)
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise _fail(name, value, "one of true/false, yes/no, on/off, 1/0")


def env_int(
    name: str,
    default: int,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    value = _raw(name, environ)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise _fail(name, value, "a whole number") from None
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise _fail(name, value, f"a whole number between {minimum} and {maximum}")
    return number


def env_list(name: str, default: Sequence[str] = (), *, environ: Mapping[str, str] | None = None) -> list[str]:
    value = _raw(name, environ)
    if value is None:
        return list(default)
    items = [item.strip() for item in value.split(",")]
    if any(not item for item in items):
        raise _fail(name, value, "a comma-separated list without empty items")
    return items


def env_choice(
    name: str, default: str, choices: Sequence[str], *, environ: Mapping[str, str] | None = None
) -> str:
    value = _raw(name, environ)
    if value is None:
        return default
    if value not in choices:
        raise _fail(name, value, "one of " + ", ".join(choices))
    return value


def env_time(name: str, default: str, *, environ: Mapping[str, str] | None = None) -> time:
    value = _raw(name, environ) or default
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", value)
    if not match:
        raise _fail(name, value, "a 24-hour time such as 07:30")
    return time(int(match.group(1)), int(match.group(2)))


def env_weekday(name: str, default: str, *, environ: Mapping[str, str] | None = None) -> int:
    """A weekday name (mon..sun) as Celery's crontab number (0 = Sunday)."""
    value = (_raw(name, environ) or default).lower()[:3]
    if value not in _WEEKDAYS:
        raise _fail(name, value, "a weekday name such as monday or mon")
    return (_WEEKDAYS.index(value) + 1) % 7


def env_timezone(name: str, default: str, *, environ: Mapping[str, str] | None = None) -> str:
    value = _raw(name, environ) or default
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise _fail(name, value, "an IANA time zone such as Europe/Paris or UTC") from None
    return value


def env_database(name: str, default: str, *, environ: Mapping[str, str] | None = None) -> dj_database_url.DBConfig:
    value = _raw(name, environ) or default
    if not value.startswith(("sqlite://", "postgres://", "postgresql://", "pgsql://")):
        raise _fail(name, value, "a sqlite:/// or postgres:// URL")
    try:
        config = dj_database_url.parse(value, conn_max_age=0)
    except (ValueError, KeyError) as error:
        raise _fail(name, value, f"a database URL ({error})") from None
    if config["ENGINE"].endswith("postgresql") and not config.get("NAME"):
        raise _fail(name, value, "a PostgreSQL URL that names the database")
    return config


def env_redis_url(name: str, *, environ: Mapping[str, str] | None = None) -> str | None:
    value = _raw(name, environ)
    if value is None:
        return None
    if not re.fullmatch(r"rediss?://[^\s/]*(/\d+)?", value):
        raise _fail(name, value, "a redis://host:port/db URL")
    return value


def env_field_policies(
    name: str, *, choices: Sequence[str] = ("redact", "reject", "off"), environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """`field=policy` pairs, comma-separated, each policy one of `choices`."""
    policies = {}
    for item in env_list(name, environ=environ):
        field, _, policy = item.partition("=")
        if not re.fullmatch(r"[a-z_]+(?:\.[a-z_]+)?", field.strip()) or policy.strip() not in choices:
            raise _fail(
                name, item, "field=policy pairs such as title=reject, with policy one of " + ", ".join(choices)
            )
        policies[field.strip()] = policy.strip()
    return policies


# --- The API for tools ---------------------------------------------------------------------------------

_RATE_PERIODS = ("s", "sec", "second", "m", "min", "minute", "h", "hour", "d", "day")


def env_rate(name: str, default: str, *, environ: Mapping[str, str] | None = None) -> str:
    """A request rate as Django REST framework writes it: 120/min, 10/s, 1000/hour, 5000/day."""
    value = _raw(name, environ) or default
    match = re.fullmatch(r"(\d+)/([a-z]+)", value)
    if not match or int(match.group(1)) < 1 or match.group(2) not in _RATE_PERIODS:
        raise _fail(name, value, "a rate such as 120/min, 10/second, 1000/hour or 5000/day")
    return value


def env_pg_memory(name: str, default: str, *, environ: Mapping[str, str] | None = None) -> str | None:
    """A PostgreSQL memory size such as 16MB (kB, MB or GB), or `server` (None): keep the server's setting."""
    value = _raw(name, environ) or default
    if value.lower() == "server":
        return None
    if not re.fullmatch(r"[1-9]\d*(kB|MB|GB)", value):
        raise _fail(name, value, "a PostgreSQL memory size such as 16MB (kB, MB or GB), or server")
    return value


# --- Outbound webhooks -------------------------------------------------------------------------------------

_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600}


def env_durations(
    name: str, default: str, *, max_items: int, max_seconds: int, environ: Mapping[str, str] | None = None
) -> list[int]:
    """Durations such as 5s,5m,30m,2h (seconds, minutes, hours), comma-separated, as seconds: 1 to `max_items`
    of them, each from 1 s to `max_seconds`."""
    value = _raw(name, environ) or default
    expected = f"1 to {max_items} durations such as 5s,5m,2h, each from 1s to {max_seconds}s"
    seconds = []
    for item in env_list(name, environ={name: value}):
        match = re.fullmatch(r"([0-9]{1,6})([smh])", item)
        if match is None:
            raise _fail(name, value, expected)
        seconds.append(int(match.group(1)) * _DURATION_UNITS[match.group(2)])
    if not 1 <= len(seconds) <= max_items or not all(1 <= each <= max_seconds for each in seconds):
        raise _fail(name, value, expected)
    return seconds


def env_networks(name: str, *, environ: Mapping[str, str] | None = None) -> list[str]:
    """IP networks in CIDR form (10.20.0.0/16, 127.0.0.0/8, fd00::/8), comma-separated; a single address is a
    network of one."""
    networks = []
    for item in env_list(name, environ=environ):
        try:
            networks.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise _fail(name, item, "IP networks such as 10.20.0.0/16 or fd00::/8, comma-separated") from None
    return networks


# --- Single sign-on ---------------------------------------------------------------------------------------

_ROLES = ("member", "lead")


def env_group_map(name: str, *, environ: Mapping[str, str] | None = None) -> dict[str, tuple[str, str]]:
    """Identity-provider group → (team slug, role): `group=team-slug` or `group=team-slug:lead`, comma-separated
    (docs/sso.md)."""
    mapping: dict[str, tuple[str, str]] = {}
    for item in env_list(name, environ=environ):
        group, _, target = (part.strip() for part in item.partition("="))
        slug, _, role = (part.strip() for part in target.partition(":"))
        role = role or "member"
        if not group or len(group) > 255 or not re.fullmatch(r"[-a-zA-Z0-9_]{1,50}", slug) or role not in _ROLES:
            raise _fail(name, item, "group=team-slug pairs, each optionally followed by :lead or :member")
        if group in mapping:
            raise _fail(name, item, "each group named once")
        mapping[group] = (slug, role)
    return mapping
