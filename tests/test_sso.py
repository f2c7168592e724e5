"""Single sign-on without a browser: the backend's user rules, the group mapping, the system check, the discovery
document, the login doors with PASSWORD_LOGIN=false, and logout (the browser tests: tests/browser/test_sso.py)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.contrib.auth import BACKEND_SESSION_KEY
from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation
from django.test import Client, RequestFactory
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from config.env import env_group_map
from incidents import sso
from incidents.models import Membership
from incidents.services.accounts import memberships_sync
from tests.factories import MembershipFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
ISSUER = "https://idp.example.test"
DISCOVERY = {
    "issuer": ISSUER,
    "authorization_endpoint": f"{ISSUER}/authorize",
    "token_endpoint": f"{ISSUER}/token",
    "jwks_uri": f"{ISSUER}/jwks",
    "end_session_endpoint": f"{ISSUER}/logout",
}
GROUP_MAP = {"eng-payments": ("payments", "member"), "eng-payments-leads": ("payments", "lead"),
             "eng-platform": ("platform", "member")}  # fmt: skip


class FakeResponse:
    def __init__(self, document):
        self.document = document

    def raise_for_status(self):
        pass

    def json(self):
        return self.document


@pytest.fixture
def fetches(monkeypatch):
    """The discovery document as the provider serves it; the list records each fetch."""
    calls: list[str] = []
    document = dict(DISCOVERY)

    def get(url, timeout):
        calls.append(url)
        assert timeout == 5
        return FakeResponse(document)

    monkeypatch.setattr(sso.requests, "get", get)
    sso.discovery_forget()
    yield calls, document
    sso.discovery_forget()


@pytest.fixture
def sso_on(settings, fetches):
    settings.OIDC_ISSUER = ISSUER
    settings.OIDC_RP_CLIENT_ID = "hindsight"
    settings.OIDC_RP_CLIENT_SECRET = "test-only-secret"
    settings.OIDC_GROUP_MAP = GROUP_MAP
    settings.OIDC_PROVIDER_NAME = "Example SSO"
    settings.AUTHENTICATION_BACKENDS = [
        settings.AUTHENTICATION_BACKENDS[0], settings.OIDC_BACKEND, *settings.AUTHENTICATION_BACKENDS[1:]
    ]  # fmt: skip
    auth = settings.MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware")
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE[: auth + 1],
        settings.OIDC_MIDDLEWARE,
        *settings.MIDDLEWARE[auth + 1 :],
    ]
    return settings


@pytest.fixture
def teams():
    return {slug: TeamFactory(name=slug.title(), slug=slug) for slug in ("payments", "platform", "ops")}


@pytest.fixture
def backend(sso_on):
    backend = sso.Backend()
    backend.request = RequestFactory().get("/accounts/oidc/callback/")
    return backend


def claims(**extra) -> dict:
    return {"sub": "u-1", "email": "Ada@Example.com", "email_verified": True, "name": "Ada Lovelace",
            "preferred_username": "ada", **extra}  # fmt: skip


def roles(user) -> dict[str, str]:
    return dict(Membership.objects.filter(user=user).values_list("team__slug", "role"))


# --- The setting ------------------------------------------------------------------------------------------


def test_the_group_map_reads_teams_and_the_lead_role():
    raw = "eng-payments=payments, eng-payments-leads = payments:lead,Platform Admins=platform:member"
    assert env_group_map("OIDC_GROUP_MAP", environ={"OIDC_GROUP_MAP": raw}) == {
        "eng-payments": ("payments", "member"),
        "eng-payments-leads": ("payments", "lead"),
        "Platform Admins": ("platform", "member"),
    }


@pytest.mark.parametrize("raw", ["eng=payments:owner", "eng", "=payments", "eng=pay ments", "a=x,a=y"])
def test_a_malformed_group_map_stops_start_up_naming_the_variable(raw):
    with pytest.raises(ImproperlyConfigured, match="OIDC_GROUP_MAP"):
        env_group_map("OIDC_GROUP_MAP", environ={"OIDC_GROUP_MAP": raw})


def _check(env: dict[str, str], tmp_path) -> subprocess.CompletedProcess:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("OIDC_", "PASSWORD_LOGIN", "DATABASE_URL"))}
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**keep, "DEBUG": "true", "HINDSIGHT_VAR_DIR": str(tmp_path), **env},
    )  # fmt: skip


def test_settings_with_an_issuer_start_without_asking_the_provider(tmp_path):
    # 192.0.2.1 (TEST-NET-1) never answers: a fetch at start-up would hang past the timeout or fail.
    result = _check({"OIDC_ISSUER": "https://192.0.2.1/realm", "OIDC_RP_CLIENT_ID": "x",
                     "OIDC_RP_CLIENT_SECRET": "y", "PASSWORD_LOGIN": "false"}, tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_password_login_cannot_be_turned_off_without_single_sign_on(tmp_path):
    result = _check({"PASSWORD_LOGIN": "false"}, tmp_path)
    assert result.returncode != 0
    assert "PASSWORD_LOGIN=false needs OIDC_ISSUER" in result.stderr


# --- Users --------------------------------------------------------------------------------------------


def test_a_first_sign_in_creates_the_user_named_by_preferred_username(backend, teams):
    user = backend.get_or_create_user("access", "id-token", claims(groups=["eng-payments-leads", "eng-platform"]))

    assert (user.username, user.email, user.first_name, user.last_name) == (
        "ada", "Ada@Example.com", "Ada", "Lovelace",
    )  # fmt: skip
    assert roles(user) == {"payments": "lead", "platform": "member"}


def test_a_taken_or_invalid_preferred_username_falls_back_to_the_email(backend):
    UserFactory(username="ada", email="someone-else@example.com")
    UserFactory(username="ada.l", email="third@example.com")

    taken = backend.get_or_create_user("a", "i", claims(email="ada.l@example.com"))
    invalid = backend.get_or_create_user("a", "i", claims(sub="u-2", email="grace@example.com",
                                                          preferred_username="grace hopper!"))  # fmt: skip

    assert (taken.username, invalid.username) == ("ada.l2", "grace")


def test_an_unverified_email_is_refused_with_the_reason(backend):
    with pytest.raises(SuspiciousOperation):
        backend.get_or_create_user("a", "i", claims(email_verified=False))
    assert not User.objects.filter(email__iexact="ada@example.com").exists()
    assert "not verified your e-mail" in getattr(backend.request, sso.REFUSAL)


def test_an_existing_user_is_matched_by_email_in_any_case_and_kept_current(backend, teams):
    existing = UserFactory(username="alovelace", email="ada@example.com", first_name="A")
    MembershipFactory(user=existing, team=teams["ops"], role=Membership.Role.LEAD)  # not managed by the map

    user = backend.get_or_create_user(
        "a", "i", claims(given_name="Ada", family_name="King", groups=["eng-payments"])
    )

    user.refresh_from_db()
    assert user.pk == existing.pk and User.objects.count() == 1
    assert (user.email, user.first_name, user.last_name) == ("Ada@Example.com", "Ada", "King")
    assert roles(user) == {"ops": "lead", "payments": "member"}


def test_two_active_users_with_the_email_refuse_the_sign_in(backend):
    UserFactory(username="one", email="ada@example.com")
    UserFactory(username="two", email="ADA@example.com")
    UserFactory(username="gone", email="ada@example.com", is_active=False)

    with pytest.raises(SuspiciousOperation):
        backend.get_or_create_user("a", "i", claims())
    assert "Several accounts" in getattr(backend.request, sso.REFUSAL)


def test_one_active_user_is_matched_beside_an_inactive_one(backend):
    active = UserFactory(username="one", email="ada@example.com")
    UserFactory(username="gone", email="ada@example.com", is_active=False)

    assert backend.get_or_create_user("a", "i", claims()).pk == active.pk


@pytest.mark.parametrize(
    ("payload", "accepted"),
    [
        ({"iss": ISSUER, "aud": "hindsight"}, True),
        ({"iss": f"{ISSUER}/", "aud": ["another-client", "hindsight"]}, True),
        ({"iss": "https://elsewhere.example.test", "aud": "hindsight"}, False),
        ({"iss": ISSUER, "aud": "another-client"}, False),
    ],
)
def test_an_id_token_must_come_from_the_issuer_for_this_client(backend, monkeypatch, payload, accepted):
    monkeypatch.setattr(OIDCAuthenticationBackend, "verify_token", lambda self, token, **kwargs: payload)
    if accepted:
        assert backend.verify_token("the.id.token", nonce="n") == payload
    else:
        with pytest.raises(SuspiciousOperation):
            backend.verify_token("the.id.token", nonce="n")


# --- The group mapping ------------------------------------------------------------------------------------


def test_memberships_follow_the_groups_and_leave_other_teams_alone(teams, reporter):
    MembershipFactory(user=reporter, team=teams["ops"], role=Membership.Role.MEMBER)

    first = memberships_sync(user=reporter, groups=["eng-payments", "eng-payments-leads"], group_map=GROUP_MAP)
    assert roles(reporter) == {"payments": "lead", "ops": "member"}  # lead wins over member
    assert first.role_changed == ["payments"]  # the reporter fixture was a member of payments

    second = memberships_sync(user=reporter, groups=["eng-platform"], group_map=GROUP_MAP)
    assert roles(reporter) == {"platform": "member", "ops": "member"}
    assert (second.added, second.removed) == (["platform"], ["payments"])


def test_a_mapping_to_an_unknown_team_is_reported_not_fatal(teams, reporter, caplog):
    group_map = {**GROUP_MAP, "eng-ghosts": ("ghosts", "lead")}

    with caplog.at_level(logging.WARNING, logger="incidents.services.accounts"):
        changes = memberships_sync(user=reporter, groups=["eng-ghosts", "eng-platform"], group_map=group_map)

    assert changes.unknown_teams == ["ghosts"]
    assert "ghosts" in caplog.text
    assert roles(reporter) == {"platform": "member"}


def test_the_system_check_warns_of_a_mapping_to_an_unknown_team(sso_on, teams):
    assert sso.group_map_check() == []
    sso_on.OIDC_GROUP_MAP = {**GROUP_MAP, "eng-ghosts": ("ghosts", "member")}

    warnings = sso.group_map_check()

    assert [(w.id, w.level) for w in warnings] == [("hindsight.W001", logging.WARNING)]
    assert "ghosts" in warnings[0].msg


# --- The discovery document ---------------------------------------------------------------------------------


def test_the_discovery_document_is_fetched_once_when_first_needed(sso_on, fetches, client):
    calls, _ = fetches
    assert calls == []

    first = client.get("/accounts/oidc/authenticate/")
    client.get("/accounts/oidc/authenticate/")

    assert calls == [f"{ISSUER}/.well-known/openid-configuration"]
    query = parse_qs(urlsplit(first["Location"]).query)
    assert first["Location"].startswith(f"{ISSUER}/authorize?")
    assert query["code_challenge_method"] == ["S256"] and query["nonce"] and query["state"]


def test_a_provider_that_is_down_gives_a_clear_page(sso_on, monkeypatch, client):
    def down(url, timeout):
        raise requests.ConnectionError("connection refused")

    monkeypatch.setattr(sso.requests, "get", down)

    response = client.get("/accounts/oidc/authenticate/")

    assert response.status_code == 503
    assert "Example SSO did not answer" in response.content.decode()


def test_a_document_of_another_issuer_is_refused(sso_on, fetches, client):
    fetches[1]["issuer"] = "https://elsewhere.example.test"
    assert client.get("/accounts/oidc/authenticate/").status_code == 503


def test_a_callback_with_an_unknown_state_is_refused_signed_out(sso_on, client):
    client.get("/accounts/oidc/authenticate/")  # the session holds one state

    response = client.get("/accounts/oidc/callback/?code=abc&state=forged", follow=True)

    assert response.redirect_chain[-1][0] == "/accounts/login/"
    assert "could not be verified" in response.content.decode()
    assert "_auth_user_id" not in client.session


# --- The login doors --------------------------------------------------------------------------------------


def test_without_single_sign_on_the_login_page_is_the_password_form_only(client):
    page = client.get("/accounts/login/").content.decode()
    assert 'name="password"' in page and "Sign in with" not in page
    assert client.get("/accounts/oidc/authenticate/").status_code == 404
    assert client.get("/accounts/break-glass/").status_code == 404


def test_with_single_sign_on_the_login_page_offers_both(sso_on, client, reporter):
    page = client.get("/accounts/login/?next=/incidents/").content.decode()
    assert "Sign in with Example SSO" in page and 'name="password"' in page
    assert "/accounts/oidc/authenticate/?next=/incidents/" in page
    assert (
        client.post(
            "/accounts/login/", {"username": "rita", "password": "correct horse battery staple"}
        ).status_code
        == 302
    )


@pytest.fixture
def password_login_off(sso_on):
    sso_on.PASSWORD_LOGIN = False
    return sso_on


def test_with_password_login_off_a_password_post_is_refused(password_login_off, client, admin_user):
    response = client.post("/accounts/login/", {"username": "ada", "password": "correct horse battery staple"})

    assert response.status_code == 403
    assert "Password login is turned off. Sign in with Example SSO." in response.content.decode()
    assert 'name="password"' not in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_with_password_login_off_the_admin_login_goes_to_single_sign_on(password_login_off, client):
    response = client.get("/admin/login/?next=/admin/incidents/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/oidc/authenticate/?next=%2Fadmin%2Fincidents%2F"


def test_break_glass_signs_in_an_active_superuser_only(password_login_off, client, admin_user, reporter):
    password = "correct horse battery staple"
    refused = client.post("/accounts/break-glass/", {"username": "rita", "password": password})
    assert refused.status_code == 200 and "active superuser" in refused.content.decode()
    assert "_auth_user_id" not in client.session

    admitted = client.post("/accounts/break-glass/", {"username": "ada", "password": password})
    assert admitted.status_code == 302
    assert client.session["_auth_user_id"] == str(admin_user.pk)


def test_break_glass_is_behind_the_login_lockout(password_login_off, admin_user):
    password_login_off.AXES_FAILURE_LIMIT = 3
    client = Client(REMOTE_ADDR="198.51.100.7")
    statuses = [client.post("/accounts/break-glass/", {"username": "ada", "password": f"guess-{n}"}).status_code
                for n in range(3)]  # fmt: skip
    assert statuses == [200, 200, 429]
    locked = client.post("/accounts/break-glass/", {"username": "ada", "password": "correct horse battery staple"})
    assert locked.status_code == 429 and "_auth_user_id" not in client.session


def test_a_code_the_provider_refuses_leaves_the_person_signed_out(sso_on, client, monkeypatch):
    def refused(self, payload):
        raise requests.HTTPError("400 invalid_grant")

    monkeypatch.setattr(sso.Backend, "get_token", refused)
    client.get("/accounts/oidc/authenticate/")
    state = next(iter(client.session["oidc_states"]))

    response = client.get(f"/accounts/oidc/callback/?code=used&state={state}", follow=True)

    assert "The provider refused the sign-in" in response.content.decode()
    assert "_auth_user_id" not in client.session


# --- Logout -----------------------------------------------------------------------------------------------


def _signed_in_request(backend_path: str, **session):
    request = RequestFactory().post("/accounts/logout/")
    request.session = {BACKEND_SESSION_KEY: backend_path, **session}
    return request


def test_logout_ends_the_provider_session_with_the_id_token(sso_on):
    url = sso.provider_logout_url(_signed_in_request(sso_on.OIDC_BACKEND, oidc_id_token="the.id.token"))

    assert url.startswith(f"{ISSUER}/logout?")
    query = parse_qs(urlsplit(url).query)
    assert query["id_token_hint"] == ["the.id.token"]
    assert query["post_logout_redirect_uri"] == ["http://testserver/accounts/login/"]


def test_logout_is_local_without_an_end_session_endpoint_or_a_password_session(sso_on, fetches):
    password_session = _signed_in_request("django.contrib.auth.backends.ModelBackend")
    assert sso.provider_logout_url(password_session) == "/accounts/login/"
    fetches[1].pop("end_session_endpoint")
    assert sso.provider_logout_url(_signed_in_request(sso_on.OIDC_BACKEND)) == "/accounts/login/"
