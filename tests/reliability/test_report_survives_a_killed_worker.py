"""R5 worker killed: a real Celery worker (Redis broker, PostgreSQL) is killed with SIGKILL in the middle of
generating a weekly report; after a worker starts again the report exists exactly once, ready.

The report task is acks_late with reject_on_worker_lost, so the message stays unacknowledged in Redis when its
worker dies, and Redis hands it out again once CELERY_VISIBILITY_TIMEOUT has passed (short here, an hour or more
in production). The report is slow to kill mid-way only because of the data: the demo organisation, seeded large.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from incidents.demo import seed_demo
from incidents.models import TrendReport
from incidents.weeks import Week
from tests.workers import requires_postgresql_url, test_database_url

ROOT = Path(__file__).resolve().parents[2]
VISIBILITY_TIMEOUT = 3
SEED_INCIDENTS = int(os.environ.get("R5_SEED_INCIDENTS", "3000"))

pytestmark = [
    pytest.mark.reliability,
    pytest.mark.slow,
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="REDIS_URL is not set: no Redis broker to test on"),
    requires_postgresql_url,
]


def _start_worker(queue: str, tmp_path: Path, log: Path) -> subprocess.Popen:
    env = {
        **os.environ, "DEBUG": "true", "DATABASE_URL": test_database_url(), "HINDSIGHT_VAR_DIR": str(tmp_path),
        "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
    }  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "-Q", queue,
         "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=INFO"],
        cwd=ROOT, env=env, stdout=log.open("a"), stderr=subprocess.STDOUT,
    )  # fmt: skip


def _wait_for(predicate, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _status(week: Week) -> str | None:
    return (
        TrendReport.objects.filter(week_start=week.monday, scope="organisation", audience="everyone")
        .values_list("status", flat=True)
        .first()
    )


def _both_ready(week: Week) -> bool:
    statuses = TrendReport.objects.filter(week_start=week.monday, scope="organisation").values_list(
        "status", flat=True
    )
    return sorted(statuses) == [TrendReport.Status.READY] * 2


@pytest.mark.django_db(transaction=True)
def test_a_report_survives_its_worker_being_killed(tmp_path):
    from incidents.tasks import report_generate_task

    seed_demo(incidents=SEED_INCIDENTS, weeks=13, seed=5)
    week = Week.last()
    queue = f"reports-{uuid.uuid4().hex[:8]}"  # a private queue: no other worker takes the task
    log = tmp_path / "workers.log"
    first = _start_worker(queue, tmp_path, log)
    second = None
    try:
        report_generate_task.apply_async(args=[week.monday.isoformat(), None], queue=queue)
        _wait_for(lambda: _status(week) == TrendReport.Status.RUNNING, timeout=120, what="the report to start")
        first.send_signal(signal.SIGKILL)  # 1. killed in the middle of the aggregation
        assert first.wait(timeout=30) == -signal.SIGKILL
        assert _status(week) == TrendReport.Status.RUNNING, "the report finished before the kill; seed more data"
        time.sleep(VISIBILITY_TIMEOUT + 1)  # 2. the message is unacknowledged and due for redelivery
        second = _start_worker(queue, tmp_path, log)  # 3. a worker starts again and is handed the message
        _wait_for(lambda: _both_ready(week), timeout=180, what="the report (both audiences) to be ready")
    finally:
        for worker in (first, second):
            if worker is not None and worker.poll() is None:
                worker.kill()  # a warm shutdown would wait for the task
                worker.wait(timeout=30)
    reports = TrendReport.objects.filter(week_start=week.monday)
    # Once per audience (everyone, confidential), each ready.
    assert sorted(reports.values_list("audience", flat=True)) == ["confidential", "everyone"], log.read_text()
    assert all(row.status == TrendReport.Status.READY for row in reports), log.read_text()
    report = reports.get(audience="everyone")
    assert (report.scope, report.status, report.error) == ("organisation", TrendReport.Status.READY, "")
    assert sum(report.data["counts"]["near_misses"]) > 0
