"""Personas and shared fixtures.

The payments team has a reporter (member) and a lead; the outsider belongs to another team; the admin is a
superuser. Environments and causes come from the seeding migration.
"""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.test.utils import override_settings

from incidents.models import Environment, Membership
from tests.factories import MembershipFactory, ServiceFactory, TeamFactory, UserFactory
from tests.live_server import install as serve_live_without_nagle

# Tests only: every user the factories create and every log-in would otherwise pay for the production hasher
# (PBKDF2, a million rounds, about half a second each). Hashes made here never leave the test database.
FAST_PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def pytest_configure(config):
    """Settings that only make the suite faster, applied before the first test (and the first hash)."""
    override_settings(PASSWORD_HASHERS=FAST_PASSWORD_HASHERS).enable()
    # Every test looks receipts up from one address within the same minutes; the tests of the limit set their own.
    override_settings(RECEIPT_LOOKUPS_PER_MINUTE=1_000_000).enable()
    serve_live_without_nagle()


RESEED_AFTER_FLUSH = pytest.StashKey[object]()


@pytest.fixture(autouse=True)
def seeded_after_flush(request, django_db_blocker):
    """Environments, causes and number counters, as the data migration seeds them, are back after a flush.

    Tests with a live server, threads or a real worker commit for real, and the flush after each of them empties
    every table, including what the migrations seeded; the hook below seeds them again (idempotently) once that
    flush is done, so that every test, whichever ran before it on its worker (pytest-xdist's work stealing hands
    a worker tests out of order), finds them. Serialized rollback would do the same but not for the browser tests,
    whose Playwright greenlet sees a connection object of its own, without the serialized copy.
    """
    marker = request.node.get_closest_marker("django_db")
    transactional = bool(marker and marker.kwargs.get("transaction"))
    if not (transactional or {"transactional_db", "live_server"} & set(request.fixturenames)):
        return
    request.getfixturevalue("transactional_db")
    request.node.stash[RESEED_AFTER_FLUSH] = django_db_blocker


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """After the test's fixtures, the transactional database's flush included: the seeded rows go back. After the
    process's last test (no `nextitem`) the test database itself is gone by then, and nothing needs them."""
    try:
        return (yield)
    finally:
        blocker = item.stash.get(RESEED_AFTER_FLUSH, None)
        if blocker is not None and nextitem is not None:
            with blocker.unblock():
                importlib.import_module("incidents.migrations.0002_seed_taxonomy").seed(apps, None)


@pytest.fixture
def team():
    return TeamFactory(name="Payments", slug="payments")


@pytest.fixture
def other_team():
    return TeamFactory(name="Platform", slug="platform")


@pytest.fixture
def reporter(team):
    return MembershipFactory(user=UserFactory(username="rita"), team=team, role=Membership.Role.MEMBER).user


@pytest.fixture
def lead(team):
    return MembershipFactory(user=UserFactory(username="leo"), team=team, role=Membership.Role.LEAD).user


@pytest.fixture
def outsider(other_team):
    return MembershipFactory(user=UserFactory(username="otto"), team=other_team, role=Membership.Role.MEMBER).user


@pytest.fixture
def admin_user():
    return UserFactory(username="ada", is_staff=True, is_superuser=True)


@pytest.fixture
def service(team):
    return ServiceFactory(name="Checkout API", slug="checkout-api", owner_team=team)


@pytest.fixture
def prod():
    return Environment.objects.get(slug="prod")


@pytest.fixture
def staging():
    return Environment.objects.get(slug="staging")
