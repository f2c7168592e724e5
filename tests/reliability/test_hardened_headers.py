"""R1 hardening: `check --deploy` is clean with production settings, and every response the project serves
(every route of the URL resolver, for a person and for anonymous visitors, errors included) carries the security
headers: a Content-Security-Policy whose scripts come from the site only (no inline scripts), nosniff,
Referrer-Policy, X-Frame-Options, and HSTS in production. Served HTML contains no inline script."""

from __future__ import annotations

import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.test import Client

from tests.reliability.conftest import all_routes, fill

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DEBUG": "false",
    "HINDSIGHT_ENV": "production",
    "SECRET_KEY": "r1-x8Jq2vN0pL5rT7wY9zA1cE3gH6kM4oQ8sU0xB2dF5hJ7lN9pR1tV3yZ6aC8eG0iK",
    "ALLOWED_HOSTS": "hindsight.example.com",
}
ONE_YEAR = 31_536_000


def test_deploy_check_is_clean_with_production_settings(tmp_path):
    environ = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "DATABASE_URL", "REDIS_URL"}}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=environ | PRODUCTION | {"HINDSIGHT_VAR_DIR": str(tmp_path)},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


class _InlineScripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.inline: list[str] = []
        self._open = False

    def handle_starttag(self, tag, attrs):
        self._open = tag == "script" and not dict(attrs).get("src")
        if self._open:
            self.inline.append("<script> without src")
        self.inline += [f"<{tag} {name}>" for name, _ in attrs if name.startswith("on")]


def _policy(header: str) -> dict[str, list[str]]:
    parts = (part.split() for part in header.split(";") if part.strip())
    return {part[0]: part[1:] for part in parts}


def _problems(response) -> list[str]:
    found = []
    policy = _policy(response.headers.get("Content-Security-Policy", ""))
    if policy.get("script-src") != ["'self'"]:
        found.append(f"script-src {policy.get('script-src')}")
    if policy.get("object-src") != ["'none'"] or policy.get("frame-ancestors") != ["'none'"]:
        found.append("object-src/frame-ancestors")
    expected = {
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "X-Frame-Options": "DENY",
        "Strict-Transport-Security": f"max-age={ONE_YEAR}; includeSubDomains; preload",
    }
    found += [
        f"{name}: {response.headers.get(name)}"
        for name, value in expected.items()
        if response.headers.get(name) != value
    ]
    if response.headers.get("Content-Type", "").startswith("text/html") and not response.streaming:
        parser = _InlineScripts()
        parser.feed(response.content.decode("utf-8", "replace"))
        found += parser.inline
    return found


@pytest.fixture
def production(settings):
    """The transport settings of production (HSTS, secure cookies, HTTPS redirect) with DEBUG off."""
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["hindsight.example.com"]
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = ONE_YEAR
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = settings.SECURE_HSTS_PRELOAD = True
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    settings.API_WRITE_THROTTLE_RATE = "100000/min"


@pytest.mark.reliability  # every route, twice: run by the reliability step
@pytest.mark.django_db
def test_every_response_carries_the_security_headers(production, world, reader):
    people = {"anonymous": Client(), "admin": Client(), "tool": Client()}
    people["admin"].force_login(world.users["admin"])
    people["tool"].defaults["HTTP_AUTHORIZATION"] = f"Bearer {reader.raw}"
    extra = ["/static/incidents/hindsight.css", "/no/such/page/", "/api/v1/nothing/", "/incidents/INC-999999/"]
    urls = [fill(route, world, confidential=False) for route in all_routes()] + extra
    failures, seen = [], set()
    for name, client in people.items():
        client.raise_request_exception = False
        for url in urls:
            for method in ("get", "post"):
                response = getattr(client, method)(url, secure=True, headers={"host": "hindsight.example.com"})
                seen.add(response.status_code)
                problems = _problems(response)
                if problems:
                    failures.append(f"{name} {method.upper()} {url} {response.status_code}: {problems}")
    assert failures == [], "\n".join(failures)
    assert {200, 302, 403, 404, 405} <= seen  # pages, redirects and errors were all checked
    assert len(urls) > 150  # every route of the resolver


@pytest.mark.django_db
def test_plain_http_is_redirected_to_https(production, client):
    response = client.get("/accounts/login/", headers={"host": "hindsight.example.com"})
    assert response.status_code == 301
    assert response["Location"] == "https://hindsight.example.com/accounts/login/"
