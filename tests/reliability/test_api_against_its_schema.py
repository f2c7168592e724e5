"""R3 fuzzing: schemathesis generates requests for every operation of the OpenAPI schema and checks the answers
against PostgreSQL, with at least R3_EXAMPLES (200) examples per operation. A live server on the test database
holds the demo organisation and a write token; any failure fails the test with schemathesis' report."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from incidents.demo import seed_demo
from incidents.models import ApiToken, Team
from incidents.services import api_token_create

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = int(os.environ.get("R3_EXAMPLES", "200"))
# Checks run: all of schemathesis' checks; schemathesis.toml beside this file lists the statuses a write may
# answer to a well-formed body (see docs/reliability.md).
CHECKS = os.environ.get("R3_CHECKS", "all")
EXCLUDED = os.environ.get("R3_EXCLUDE_CHECKS", "")
CONFIG = Path(__file__).with_name("schemathesis.toml")


@pytest.mark.reliability
@pytest.mark.skipif(connection.vendor != "postgresql", reason="R3 runs against PostgreSQL (set DATABASE_URL)")
@pytest.mark.django_db(transaction=True)
def test_the_api_answers_every_generated_request_as_its_schema_says(live_server, settings, tmp_path):
    settings.API_WRITE_THROTTLE_RATE = "100000000/min"
    seed_demo(incidents=40, weeks=4, seed=7)
    _, token = api_token_create(
        name="schemathesis", team=Team.objects.get(slug="payments"), scope=ApiToken.Scope.WRITE
    )
    command = [
        str(Path(sys.executable).with_name("st")), "--config-file", str(CONFIG), "run", f"{live_server.url}/api/schema/",
        "--header", f"Authorization: Bearer {token}", "--checks", CHECKS, "--max-examples", str(EXAMPLES),
        "--workers", "1", "--seed", "1", "--no-color", "--request-timeout", "30",
        *(["--exclude-checks", EXCLUDED] if EXCLUDED else []),
    ]  # fmt: skip
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=1800)
    # Every line of the report, each cut to 300 characters (a generated body can be a megabyte long).
    report = "\n".join(line[:300] for line in (result.stdout + result.stderr).splitlines())
    assert result.returncode == 0, report
    assert "generated" in report


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("moment", "status"),
    [
        ("2034-01-06T04:11:40-16:12", 200),
        ("1970-01-01T00:00+23:59", 200),
        ("2100-12-31T23:59:59-23:59", 200),
        ("3400-01-06T04:11:40-16:12", 400),
        ("9999-12-31T23:59:59-23:59", 400),
        ("0001-01-01T00:00+23:59", 400),
    ],
)
def test_times_with_any_utc_offset_filter(reader, moment, status):
    """Found by R3: PostgreSQL refuses UTC offsets beyond 15:59, which ISO 8601 allows (it was a 500). Times are
    accepted in the years 1970 to 2100, as the schema's pattern says; others are a 400 naming the filter."""
    reader.client.raise_request_exception = False
    for url in (
        "/api/v1/deployments/?deployed_from=",
        "/api/v1/deployments/?deployed_to=",
        "/api/v1/releases/?created_from=",
    ):
        assert reader.get(url + moment.replace("+", "%2B")).status_code == status, url
