"""The OpenAPI schema documents every error, the docs need no CDN, and the API's settings are strict."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from rest_framework.test import APIClient

from config.env import env_rate

ROOT = Path(__file__).resolve().parents[2]


def _operation(schema, path: str, method: str) -> dict:
    return schema["paths"][path][method]


def test_every_operation_documents_auth_and_input_errors_with_bodies(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            assert {"400", "401", "403"} <= codes, (method, path, codes)
            assert "content" in operation["responses"]["401"], (method, path)


@pytest.mark.parametrize(
    ("path", "method", "codes"),
    [
        ("/api/v1/incidents/", "post", {"200", "201", "409", "413", "415", "422", "429"}),
        ("/api/v1/incidents/{reference}/", "patch", {"200", "404", "409", "412", "428", "429"}),
        ("/api/v1/incidents/{reference}/", "get", {"200", "404"}),
        ("/api/v1/deployments/", "post", {"200", "201", "409", "422"}),
        ("/api/v1/hooks/github/", "post", {"200", "202", "401"}),
        ("/api/v1/hooks/alertmanager/", "post", {"200", "400", "413"}),
        ("/api/v1/reports/{week}/", "get", {"200", "400", "404"}),
    ],
)
def test_operations_document_their_specific_answers(schema, path, method, codes):
    assert codes <= set(_operation(schema, path, method)["responses"])


def test_creates_document_the_idempotency_key_and_updates_if_match(schema):
    create = _operation(schema, "/api/v1/incidents/", "post")
    update = _operation(schema, "/api/v1/incidents/{reference}/", "patch")
    assert "Idempotency-Key" in {parameter["name"] for parameter in create["parameters"]}
    assert "If-Match" in {parameter["name"] for parameter in update["parameters"]}


def test_incident_list_documents_the_shared_filters(schema):
    names = {parameter["name"] for parameter in _operation(schema, "/api/v1/incidents/", "get")["parameters"]}
    assert {"q", "kind", "environment", "cause", "service", "team", "severity", "ordering", "page"} <= names


@pytest.mark.django_db
@pytest.mark.parametrize(
    "label", ["2026-W47", "1970-W01", "2100-W52", "0000-W00", "1969-W52", "2101-W01", "9999-W01"]
)
def test_the_report_week_the_schema_accepts_is_the_week_the_api_accepts(schema, reader, label):
    """A week that matches the schema's pattern is never a 400 (it may be a 404: not generated, or no such week);
    one that does not match is a 400 naming the week."""
    (parameter,) = [
        p for p in _operation(schema, "/api/v1/reports/{week}/", "get")["parameters"] if p["name"] == "week"
    ]
    matches = re.match(parameter["schema"]["pattern"], label) is not None
    response = reader.get(f"/api/v1/reports/{label}/")
    assert (response.status_code != 400) == matches, (label, response.status_code)
    if not matches:
        assert list(response.json()) == ["week"]


@pytest.mark.django_db
def test_schema_and_docs_are_served_without_a_cdn():
    client = APIClient()
    assert client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").status_code == 200
    page = client.get("/api/docs/").content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources, page
    assert all(not source.startswith(("http://", "https://", "//")) for source in sources), sources
    assert any("swagger-ui-bundle.js" in source for source in sources)
    assert not re.search(r"<script>(?!\s*</script>)", page)  # the set-up script is a separate file


def test_env_rate_accepts_rest_framework_rates():
    assert env_rate("RATE", "120/min", environ={}) == "120/min"
    assert env_rate("RATE", "1/s", environ={"RATE": "10/second"}) == "10/second"


@pytest.mark.parametrize("raw", ["fast", "0/min", "10/fortnight", "-1/s", "10 per minute"])
def test_env_rate_rejects_malformed_rates_naming_the_variable(raw):
    with pytest.raises(ImproperlyConfigured, match=r"API_WRITE_THROTTLE_RATE="):
        env_rate("API_WRITE_THROTTLE_RATE", "120/min", environ={"API_WRITE_THROTTLE_RATE": raw})


def _last_line(result: subprocess.CompletedProcess) -> str:
    lines = result.stdout.strip().splitlines()
    return lines[-1] if lines else ""


def _setting(name: str, env_overrides: dict[str, str], tmp_path) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "REDIS_URL"}}
    env.update({"DEBUG": "true", "HINDSIGHT_VAR_DIR": str(tmp_path), **env_overrides})
    code = f"from django.conf import settings; print(settings.{name})"
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip


def test_throttle_cache_is_redis_with_redis_url_and_local_otherwise(tmp_path):
    shared = _setting("CACHES['default']['BACKEND']", {"REDIS_URL": "redis://127.0.0.1:6379/9"}, tmp_path)
    local = _setting("CACHES['default']['BACKEND']", {}, tmp_path)
    assert _last_line(shared) == "django.core.cache.backends.redis.RedisCache", shared.stderr
    assert _last_line(local) == "django.core.cache.backends.locmem.LocMemCache", local.stderr


def test_body_limit_is_configurable_and_strict(tmp_path):
    assert _last_line(_setting("API_MAX_BODY_BYTES", {"API_MAX_BODY_BYTES": "4096"}, tmp_path)) == "4096"
    bad = _setting("API_MAX_BODY_BYTES", {"API_MAX_BODY_BYTES": "lots"}, tmp_path)
    assert bad.returncode != 0
    assert "API_MAX_BODY_BYTES='lots' is not valid" in bad.stderr
