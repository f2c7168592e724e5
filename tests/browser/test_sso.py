"""Single sign-on end to end: Chromium, Hindsight's live server on 127.0.0.1 and a certified OpenID provider
(the npm package oidc-provider, tests/browser/oidc_provider.mjs) on localhost, so that their cookies stay apart.

The provider is started once for the module. Without Node or the npm package the tests skip with the reason,
except where HINDSIGHT_BROWSER_TESTS=required (.ci/run), where they fail.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests
from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore
from django.test import override_settings
from playwright.sync_api import expect
from pytest_django.live_server_helper import LiveServer

from incidents import sso
from incidents.models import AuditEntry, Membership
from tests.browser import REQUIRED
from tests.factories import MembershipFactory, TeamFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "oidc_provider.mjs"
PACKAGE = HERE / "node_modules" / "oidc-provider" / "package.json"
PROVIDER_NAME = "Test provider"
GROUP_MAP = {
    "eng-payments": ("payments", "member"),
    "eng-payments-leads": ("payments", "lead"),
    "eng-platform-leads": ("platform", "lead"),
}
PASSWORD = "correct horse battery staple"  # tests/factories.py UserFactory


def _unavailable(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"HINDSIGHT_BROWSER_TESTS=required but {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def provider_port() -> int:
    if shutil.which("node") is None:
        _unavailable("node is missing (apt-get install -y nodejs): the single sign-on tests need it")
    if not PACKAGE.exists():
        _unavailable("the npm package oidc-provider is missing: npm ci --prefix tests/browser")
    return _free_port()


@pytest.fixture(scope="module")
def accounts(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("oidc") / "accounts.json"


def write_accounts(path: Path, **people: dict) -> None:
    path.write_text(json.dumps(people), encoding="utf-8")


@pytest.fixture(scope="module")
def live_server(provider_port, django_db_setup, django_db_blocker):
    """This module's own live server, started with single sign-on on (its middleware is loaded at start)."""
    auth = settings.MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware")
    issuer, csp = f"http://localhost:{provider_port}", settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]
    overrides = override_settings(
        OIDC_ISSUER=issuer,
        OIDC_RP_CLIENT_ID="hindsight-test",
        OIDC_RP_CLIENT_SECRET="test-only-client-secret",
        OIDC_RP_SCOPES="openid email profile groups",
        OIDC_GROUP_MAP=GROUP_MAP,
        OIDC_PROVIDER_NAME=PROVIDER_NAME,
        AUTHENTICATION_BACKENDS=[settings.AUTHENTICATION_BACKENDS[0], settings.OIDC_BACKEND,
                                 *settings.AUTHENTICATION_BACKENDS[1:]],
        MIDDLEWARE=[*settings.MIDDLEWARE[: auth + 1], settings.OIDC_MIDDLEWARE, *settings.MIDDLEWARE[auth + 1 :]],
        CONTENT_SECURITY_POLICY={"DIRECTIVES": {**csp, "form-action": [*csp["form-action"], issuer]}},
    )  # fmt: skip
    overrides.enable()
    sso.discovery_forget()
    with django_db_blocker.unblock():
        server = LiveServer("127.0.0.1")
    yield server
    server.stop()
    overrides.disable()
    sso.discovery_forget()


@pytest.fixture
def page(page):
    """The shared page, kept on loopback: the provider's development pages ask a font CDN for a style sheet, and a
    request that cannot leave the machine would hold each page's load event for seconds."""
    page.context.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/]|localhost[:/])"), lambda route: route.abort())
    return page


@pytest.fixture(scope="module")
def provider(live_server, provider_port, accounts):
    write_accounts(accounts)
    issuer = f"http://localhost:{provider_port}"
    log = accounts.with_name("provider.log").open("w+", encoding="utf-8")  # a file: a full pipe would block it
    process = subprocess.Popen(
        ["node", str(SCRIPT), str(provider_port), f"{live_server.url}/accounts/oidc/callback/", str(accounts)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            if requests.get(f"{issuer}/.well-known/openid-configuration", timeout=1).ok:
                break
        except requests.ConnectionError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            log.seek(0)
            pytest.fail(f"oidc-provider did not start:\n{log.read()}")
        time.sleep(0.1)
    yield issuer
    process.terminate()
    process.wait(timeout=10)
    log.close()


@pytest.fixture
def teams(db):
    return {"payments": TeamFactory(name="Payments", slug="payments"), "ops": TeamFactory(name="Ops", slug="ops"),
            "platform": TeamFactory(name="Platform", slug="platform")}  # fmt: skip


ADA = {"email": "Ada@Example.com", "email_verified": True, "name": "Ada Lovelace", "preferred_username": "ada"}


def sign_in(page, login: str = "ada") -> None:
    """From the login page, through the provider's login form, back into Hindsight."""
    page.goto("/accounts/login/")
    page.get_by_role("link", name=f"Sign in with {PROVIDER_NAME}").click()
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill("any password")
    page.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"http://127\.0\.0\.1:\d+/$"))


def roles(user: User) -> dict[str, str]:
    return dict(Membership.objects.filter(user=user).values_list("team__slug", "role"))


def test_first_sign_in_creates_the_user_with_the_mapped_memberships(page, provider, accounts, teams):
    write_accounts(accounts, ada={**ADA, "groups": ["eng-payments", "eng-platform-leads", "unmapped"]})

    sign_in(page)

    user = User.objects.get(username="ada")
    assert (user.email, user.first_name, user.last_name) == ("Ada@Example.com", "Ada", "Lovelace")
    assert roles(user) == {"payments": "member", "platform": "lead"}
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def test_a_changed_group_changes_the_memberships_at_the_next_sign_in(page, provider, accounts, teams):
    user = UserFactory(username="ada", email="ada@example.com", first_name="Old")
    MembershipFactory(user=user, team=teams["platform"], role=Membership.Role.LEAD)
    MembershipFactory(user=user, team=teams["ops"], role=Membership.Role.MEMBER)  # not managed by single sign-on
    write_accounts(accounts, ada={**ADA, "groups": ["eng-payments"]})
    sign_in(page)
    assert roles(user) == {"payments": "member", "ops": "member"}  # matched by e-mail; platform's group is gone
    assert User.objects.get(pk=user.pk).first_name == "Ada"

    write_accounts(accounts, ada={**ADA, "groups": ["eng-payments-leads"]})
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("button", name=re.compile("Yes, sign me out", re.I)).click()
    page.wait_for_url("**/accounts/login/")
    sign_in(page)

    assert roles(user) == {"payments": "lead", "ops": "member"}
    assert AuditEntry.objects.filter(action__startswith="membership.").count() >= 3


def test_logout_ends_the_provider_session(page, provider, accounts, teams):
    write_accounts(accounts, ada=ADA)
    sign_in(page)

    page.get_by_role("button", name="Log out").click()
    page.get_by_role("button", name=re.compile("Yes, sign me out", re.I)).click()
    page.wait_for_url("**/accounts/login/")

    page.get_by_role("link", name=f"Sign in with {PROVIDER_NAME}").click()
    expect(page.locator("input[name=login]")).to_be_visible()  # the provider asks again: its session ended


def test_a_tampered_state_is_refused_without_a_session(page, provider, accounts, teams):
    """The provider's answer comes back with another state than the one this browser's session sent: refused."""
    write_accounts(accounts, ada=ADA)
    page.goto("/accounts/login/")
    page.get_by_role("link", name=f"Sign in with {PROVIDER_NAME}").click()
    page.locator("input[name=login]").fill("ada")
    page.locator("input[name=password]").fill("any password")
    fields = page.eval_on_selector("form", "form => Object.fromEntries(new FormData(form))")
    action = urljoin(page.url, page.get_attribute("form", "action") or "")
    # The browser's own cookies, one redirect at a time, up to the callback, whose state is then forged.
    answer = page.context.request.post(action, form=fields, max_redirects=0)
    while "/accounts/oidc/callback/" not in answer.headers["location"]:
        answer = page.context.request.get(urljoin(provider, answer.headers["location"]), max_redirects=0)
    callback = answer.headers["location"]
    assert "code=" in callback

    page.goto(re.sub(r"state=[^&]+", "state=forged", callback))

    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    expect(page.get_by_role("status")).to_contain_text("could not be verified")
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))
    assert not User.objects.filter(username="ada").exists()


def test_an_expired_session_ended_at_the_provider_signs_out(page, provider, accounts, teams):
    write_accounts(accounts, ada=ADA)
    sign_in(page)
    page.goto(f"{provider}/session/end")  # the provider's session ends (not through Hindsight)
    page.get_by_role("button", name=re.compile("Yes, sign me out", re.I)).click()
    expect(page.get_by_text(re.compile("sign-out success", re.I))).to_be_visible()
    cookie = next(c for c in page.context.cookies() if c["name"] == settings.SESSION_COOKIE_NAME)
    session = SessionStore(session_key=cookie["value"])
    session["oidc_id_token_expiration"] = time.time() - 1  # due for its check with the provider
    session.save()

    page.goto("/")

    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    expect(page.get_by_role("status")).to_contain_text("session has ended")
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))


def test_with_password_login_off_the_admin_uses_sso_and_break_glass_is_for_superusers(
    page, provider, accounts, teams, settings
):
    settings.PASSWORD_LOGIN = False
    UserFactory(username="root", is_staff=True, is_superuser=True)
    UserFactory(username="rita")
    write_accounts(accounts, ada=ADA)

    page.goto("/accounts/login/")
    expect(page.get_by_role("link", name=f"Sign in with {PROVIDER_NAME}")).to_be_visible()
    expect(page.get_by_label("Password")).to_have_count(0)

    page.goto("/admin/login/?next=/admin/")
    expect(page.locator("input[name=login]")).to_be_visible()  # at the provider
    assert page.url.startswith(provider)

    page.goto("/accounts/break-glass/")
    page.get_by_label("Username").fill("rita")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("active superuser")

    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"http://127\.0\.0\.1:\d+/$"))
    page.goto("/admin/")
    expect(page.get_by_role("heading", name=re.compile("administration", re.I))).to_be_visible()
    assert AuditEntry.objects.filter(action="signed in (break-glass)", actor__username="root").exists()
