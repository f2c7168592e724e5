"""`make run` points the links it sends (e-mails, reports) at the address it serves."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def _planned(*args: str, **env: str) -> list[str]:
    """The commands `make run` would start (make -n prints them without running anything)."""
    environment = {k: v for k, v in os.environ.items() if k != "SITE_URL"} | env
    result = subprocess.run(
        ["make", "-n", "run", *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return [line for line in result.stdout.splitlines() if "celery" in line or "runserver" in line]


def test_the_web_server_and_the_worker_link_to_the_port_make_run_serves():
    started = _planned("PORT=8811")
    assert len(started) == 2
    assert all(line.startswith("SITE_URL=http://127.0.0.1:8811 ") for line in started), started


def test_a_given_host_and_site_url_are_kept():
    assert all("SITE_URL=http://0.0.0.0:9000 " in line for line in _planned("HOST=0.0.0.0", "PORT=9000"))
    started = _planned("PORT=8811", SITE_URL="https://hindsight.example.com")
    assert all(line.startswith("SITE_URL=https://hindsight.example.com ") for line in started), started
