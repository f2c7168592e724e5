"""Production settings pass Django's deployment check, and every response carries the security headers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "DEBUG": "false",
    "HINDSIGHT_ENV": "production",
    "SECRET_KEY": "x8Jq2vN0pL5rT7wY9zA1cE3gH6kM4oQ8sU0xB2dF5hJ7lN9pR1tV3yZ6aC8eG0iK",
    "ALLOWED_HOSTS": "hindsight.example.com",
}
# The page is rendered without collected static files (the headers come from middleware, not from storage).
HEADERS_SCRIPT = """
from django.test import Client, override_settings
from django.conf import settings
storages = settings.STORAGES | {"staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
with override_settings(STORAGES=storages):
    response = Client().get("/accounts/login/", secure=True, headers={"host": "hindsight.example.com"})
for name in ("Strict-Transport-Security", "Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options",
             "Referrer-Policy", "Cross-Origin-Opener-Policy"):
    print(f"{name}: {response.headers.get(name)}")
print("status", response.status_code)
"""


def _run(args: list[str], env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    base = {
        k: v for k, v in os.environ.items() if k not in {"DEBUG", "DATABASE_URL", "REDIS_URL", "HINDSIGHT_ENV"}
    }
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=base | env | {"HINDSIGHT_VAR_DIR": str(tmp_path)},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_deploy_check_passes_with_production_settings(tmp_path):
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], PRODUCTION, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def _directives(policy: str) -> dict[str, str]:
    return {part.split()[0]: part.strip() for part in policy.split(";") if part.strip()}


def test_production_responses_carry_hsts_and_a_strict_policy(tmp_path):
    result = _run(["manage.py", "shell", "-c", HEADERS_SCRIPT], PRODUCTION, tmp_path)
    assert result.returncode == 0, result.stderr
    headers = dict(line.split(": ", 1) for line in result.stdout.splitlines() if ": " in line)
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    policy = _directives(headers["Content-Security-Policy"])
    assert policy["script-src"] == "script-src 'self'"
    assert policy["frame-ancestors"] == "frame-ancestors 'none'"
    assert policy["object-src"] == "object-src 'none'"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert "status 200" in result.stdout


def test_production_refuses_debug(tmp_path):
    result = _run(["manage.py", "check"], PRODUCTION | {"DEBUG": "true"}, tmp_path)
    assert result.returncode != 0
    assert "DEBUG must be off when HINDSIGHT_ENV is production" in result.stderr


@pytest.mark.django_db
def test_every_response_carries_the_security_headers(client):
    response = client.get(reverse("login"))
    assert _directives(response.headers["Content-Security-Policy"])["script-src"] == "script-src 'self'"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Frame-Options"] == "DENY"


@pytest.mark.django_db
def test_seed_demo_does_not_run_in_production(settings):
    settings.HINDSIGHT_ENV = "production"
    with pytest.raises(CommandError, match="does not run in production"):
        call_command("seed_demo", "--incidents=1")
