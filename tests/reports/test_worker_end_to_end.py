"""A real Celery worker process, on Redis and PostgreSQL, generates a report from committed data."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from incidents.models import TrendReport
from incidents.weeks import Week
from tests.factories import IncidentFactory, NearMissFactory, TeamFactory
from tests.workers import requires_postgresql_url, test_database_url

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="REDIS_URL is not set: no Redis broker to test on"),
    requires_postgresql_url,
]


@pytest.mark.django_db(transaction=True)
def test_a_worker_generates_a_report_end_to_end(tmp_path):
    from incidents.tasks import report_generate_task

    team = TeamFactory(name="Payments", slug="payments")
    week = Week.current()
    IncidentFactory(team=team, severity="sev1", started_at=week.start)
    NearMissFactory(team=team, started_at=week.start)
    queue = f"reports-{uuid.uuid4().hex[:8]}"  # a private queue: no other worker can take the task
    env = {**os.environ, "DEBUG": "true", "DATABASE_URL": test_database_url(), "HINDSIGHT_VAR_DIR": str(tmp_path)}
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "-Q", queue,
         "--without-gossip", "--without-mingle", "--loglevel=WARNING"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        result = report_generate_task.apply_async(args=[week.monday.isoformat(), team.pk], queue=queue)
        status = result.get(timeout=120)
    finally:
        worker.terminate()
        output = worker.communicate(timeout=30)[0]
    assert status == "ready", output
    report = TrendReport.objects.get(week_start=week.monday, scope="team:payments", audience="everyone")
    assert report.status == TrendReport.Status.READY
    assert report.data["counts"]["incidents"]["sev1"][-1] == 1
    assert report.data["counts"]["near_misses"][-1] == 1
