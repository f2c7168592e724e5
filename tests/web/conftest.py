"""Fixtures for the web pages: a confidential near-miss filed through the service, logged-in clients."""

from __future__ import annotations

import pytest

from incidents.models import Incident
from incidents.services import near_miss_report
from tests.factories import cause


@pytest.fixture
def confidential_filing(reporter, team, staging):
    return near_miss_report(
        reporter=reporter,
        team=team,
        title="Secret nearly pushed to a public repo",
        summary="A pre-commit hook stopped a token from being pushed.",
        environment=staging,
        caught_by=Incident.CaughtBy.AUTOMATED_CHECK,
        causes=[cause("secret-handling")],
        confidential=True,
    )


@pytest.fixture
def confidential(confidential_filing):
    return confidential_filing.incident


@pytest.fixture
def login(client):
    def as_user(user):
        client.force_login(user)
        return client

    return as_user
