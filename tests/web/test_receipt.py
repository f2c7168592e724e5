"""The confidential receipt: the code is the credential, lookups are rate-limited, and it shows the status only."""

from __future__ import annotations

import secrets

import pytest
from django.test import Client
from django.utils import timezone

from incidents.models import ActionItem
from incidents.services import near_miss_report
from incidents.tokens import receipt_code_new
from tests.factories import ActionItemFactory

pytestmark = pytest.mark.django_db


def test_anyone_with_the_code_sees_the_status_without_signing_in(client, confidential_filing):
    incident = confidential_filing.incident
    ActionItemFactory(
        incident=incident,
        title="Ask Rita about the hook",
        status=ActionItem.Status.DONE,
        completed_at=timezone.now(),
    )
    ActionItemFactory(incident=incident, title="Rotate the token")
    response = client.get(f"/receipts/{confidential_filing.receipt_code}/")
    page = response.content.decode()
    assert response.status_code == 200 and incident.reference in page
    assert f">{incident.get_status_display()}</span>" in page and "2 action items, 1 closed" in page
    assert (
        response["Cache-Control"] == "no-store" and response["Referrer-Policy"] == "same-origin"
    )  # never sent to another site


def test_the_receipt_shows_nothing_identifying_or_new(client, confidential_filing, reporter, lead):
    incident = confidential_filing.incident
    ActionItemFactory(incident=incident, title="Ask Rita about the hook", owner=lead)
    page = client.get(f"/receipts/{confidential_filing.receipt_code}/").content.decode()
    for secret in (
        incident.title,
        incident.summary,
        reporter.username,
        lead.username,
        "Ask Rita",
        incident.team.name,
    ):
        assert secret not in page


def test_unknown_and_someone_elses_codes_are_the_same_plain_404(client, login, confidential_filing, outsider):
    other = near_miss_report(
        reporter=outsider, team=outsider.memberships.get().team, title="Another", summary="Other report.",
        environment=confidential_filing.incident.environment, caught_by="luck", confidential=True,
    )  # fmt: skip
    wrong = client.get(f"/receipts/{receipt_code_new()}/")
    malformed = client.get("/receipts/not a code/")
    signed_in = login(outsider)  # the outsider asks for the reporter's code: it works, the code is the credential
    assert signed_in.get(f"/receipts/{confidential_filing.receipt_code}/").status_code == 200
    assert signed_in.get(f"/receipts/{other.receipt_code}x/").status_code == 404
    assert wrong.status_code == malformed.status_code == 404
    assert wrong.content == Client().get(f"/receipts/{receipt_code_new()}/").content


def test_lookups_are_limited_per_client_address(settings, confidential_filing):
    settings.RECEIPT_LOOKUPS_PER_MINUTE = 3
    mine, theirs = (
        Client(REMOTE_ADDR=f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{n}") for n in (1, 2)
    )
    assert [mine.get(f"/receipts/{receipt_code_new()}/").status_code for _ in range(3)] == [404, 404, 404]
    limited = mine.get(f"/receipts/{confidential_filing.receipt_code}/")
    assert limited.status_code == 429 and 1 <= int(limited["Retry-After"]) <= 60
    assert "Try again in" in limited.content.decode()
    assert theirs.get(f"/receipts/{confidential_filing.receipt_code}/").status_code == 200


def test_codes_are_long_and_random():
    codes = {receipt_code_new() for _ in range(1000)}
    assert len(codes) == 1000 and all(len(code) == 32 for code in codes)  # 192 random bits each
