"""R10 abuse: login brute force is locked out by django-axes (per username and address, the web login and the
admin's), API writes over the rate answer 429 with Retry-After, and no abuse gets a 5xx."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from axes.models import AccessAttempt
from django.test import Client

from tests.api.conftest import Tool
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


@pytest.fixture
def victim():
    return UserFactory(username="vic", password=PASSWORD, is_staff=True, is_superuser=True)


def attempt(password: str, *, username: str = "vic", address: str = "198.51.100.7", url: str = "/accounts/login/"):
    client = Client(REMOTE_ADDR=address)
    client.raise_request_exception = False
    return client.post(url, {"username": username, "password": password})


def test_brute_force_is_locked_out_for_that_username_and_address(victim, settings):
    settings.AXES_FAILURE_LIMIT = 5
    statuses = [attempt(f"guess-{n}").status_code for n in range(5)]
    assert statuses == [200, 200, 200, 200, 429]  # the form again with its error, then the lockout
    locked = attempt(PASSWORD)  # even the right password, while locked out
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) == settings.AXES_COOLOFF_MINUTES * 60
    page = locked.content.decode()
    assert "Too many failed log-ins" in page and f"After {settings.AXES_FAILURE_LIMIT} wrong passwords" in page
    assert "_auth_user_id" not in locked.client.session
    # Only that pair is locked: the same person from elsewhere, and others from that address, still log in.
    assert attempt(PASSWORD, address="203.0.113.9").status_code == 302
    UserFactory(username="colleague", password=PASSWORD)
    assert attempt(PASSWORD, username="colleague").status_code == 302
    # The admin's login counts and locks the same way.
    assert attempt(PASSWORD, url="/admin/login/").status_code == 429


def test_the_lockout_ends_after_the_cool_off(victim, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for n in range(3):
        attempt(f"guess-{n}")
    assert attempt(PASSWORD).status_code == 429
    with time_machine.travel(dt.datetime.now(tz=dt.UTC) + dt.timedelta(minutes=settings.AXES_COOLOFF_MINUTES + 1)):
        assert attempt(PASSWORD).status_code == 302


def test_a_successful_login_resets_the_count(victim, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(3):
        attempt("wrong")
        attempt("wrong")
        assert attempt(PASSWORD).status_code == 302  # two failures, then success: never locked


def test_api_writes_over_the_rate_get_429_with_retry_after(writer, reader, settings):
    settings.API_WRITE_THROTTLE_RATE = "10/min"
    writer.client.raise_request_exception = False
    statuses = [writer.post("/api/v1/incidents/", {"kind": "incident", "title": f"Storm {n}"}).status_code
                for n in range(25)]  # fmt: skip
    assert statuses[:10] == [201] * 10 and set(statuses[10:]) == {429}
    refused = writer.post("/api/v1/incidents/", {"kind": "incident", "title": "One more"})
    assert refused.status_code == 429 and 1 <= int(refused["Retry-After"]) <= 60
    assert "throttled" in refused.json()["detail"].lower()
    assert writer.get("/api/v1/incidents/").status_code == 200  # reading goes on
    # Garbage at the same rate is refused the same way, never a server error.
    junk = [writer.client.post("/api/v1/incidents/", b"\xff{" * 100, content_type="application/json").status_code
            for _ in range(5)]  # fmt: skip
    assert set(junk) == {429}


@pytest.fixture
def anonymous() -> Tool:
    return Tool(None, None)


def test_unknown_tokens_and_malformed_logins_never_get_a_server_error(anonymous):
    anonymous.client.raise_request_exception = False
    for header in ("Bearer", "Bearer x", "Bearer " + "a" * 10_000, "Basic Zm9vOmJhcg==", "Bearer \u00e9t\u00e9"):
        anonymous.client.credentials(HTTP_AUTHORIZATION=header)
        assert anonymous.get("/api/v1/incidents/").status_code == 401, header
    client = Client()
    client.raise_request_exception = False
    for data in ({"username": "x" * 10_000, "password": "y"}, {"username": "\x00", "password": "\x00"}, {}):
        assert client.post("/accounts/login/", data).status_code in (200, 400, 429)
    # The hostile usernames are still counted, stored as far as a database can hold them.
    assert AccessAttempt.objects.filter(username="x" * 150).exists()
