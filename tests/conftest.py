"""Personas and shared fixtures.

The payments team has a reporter (member) and a lead; the outsider belongs to another team; the admin is a
superuser. Environments and causes come from the seeding migration.
"""

from __future__ import annotations

import pytest

from incidents.models import Environment, Membership
from tests.factories import MembershipFactory, ServiceFactory, TeamFactory, UserFactory


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
