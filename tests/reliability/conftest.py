"""Shared helpers of the reliability checks (RELIABILITY.md): hostile strings, PostgreSQL-only runs, threads
released together, every route of the URL resolver, and API tools with fresh throttle counts."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection, connections
from django.urls import URLPattern, URLResolver, get_resolver

from incidents.models import ApiToken
from incidents.services import api_token_create
from tests.api.conftest import Tool

DATA = Path(__file__).resolve().parent / "data"

requires_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (set DATABASE_URL): SQLite serialises whole-database writes",
)


def blns() -> list[str]:
    """The Big List of Naughty Strings (MIT, data/blns-LICENSE), every string of it."""
    return json.loads((DATA / "blns.json").read_text(encoding="utf-8"))


def blns_section(title: str) -> list[str]:
    """The strings of one section of blns.txt (e.g. "Script Injection"), as written there."""
    strings: list[str] = []
    inside = False
    for line in (DATA / "blns.txt").read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
            if heading and not heading.startswith("Strings"):
                inside = heading == title
            continue
        if inside and line.strip():
            strings.append(line)
    return strings


def run_together(count: int, call: Callable[[int], object], *, timeout: float = 60) -> list:
    """Run `call(i)` for i in range(count) on threads released at the same moment; returns their results.

    Each thread has its own database connection, closed when it is done. An exception in a thread is
    returned in its place, so that the caller sees it.
    """
    barrier = threading.Barrier(count, timeout=timeout)
    results: list = [None] * count

    def worker(index: int) -> None:
        try:
            barrier.wait()
            results[index] = call(index)
        except Exception as error:  # handed back to the test, which asserts on it
            results[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout * 2)
    assert not any(thread.is_alive() for thread in threads), "a request never finished"
    return results


@dataclass(frozen=True)
class Route:
    pattern: str  # the full pattern, e.g. "incidents/<str:reference>/edit/"
    name: str | None  # namespaced, e.g. "incidents:incident_edit"; None for unnamed admin redirects


def _walk(patterns, prefix: str = "", namespace: str = "") -> Iterator[Route]:
    for item in patterns:
        if isinstance(item, URLResolver):
            inner = namespace + (f"{item.namespace}:" if item.namespace else "")
            yield from _walk(item.url_patterns, prefix + str(item.pattern), inner)
        elif isinstance(item, URLPattern):
            yield Route(prefix + str(item.pattern), f"{namespace}{item.name}" if item.name else None)


def all_routes() -> list[Route]:
    """Every route the project serves, as the URL resolver knows them."""
    return list(_walk(get_resolver().url_patterns))


@pytest.fixture(autouse=True)
def _fresh_throttle_counts(settings):
    """Each test counts API writes from zero: a cache namespace of its own (also on a shared Redis)."""
    caches = {alias: dict(config) for alias, config in django_settings.CACHES.items()}
    for config in caches.values():
        config["KEY_PREFIX"] = f"test-{uuid.uuid4().hex}"
    settings.CACHES = caches


@pytest.fixture
def writer(team) -> Tool:
    return Tool(*api_token_create(name="deploy pipeline", team=team, scope=ApiToken.Scope.WRITE))


@pytest.fixture
def reader(team) -> Tool:
    return Tool(*api_token_create(name="dashboard", team=team, scope=ApiToken.Scope.READ))


@pytest.fixture
def other_writer(other_team) -> Tool:
    return Tool(*api_token_create(name="platform pipeline", team=other_team, scope=ApiToken.Scope.WRITE))
