"""A real Celery worker process consumes a task from the broker: the embedded one always, Redis when set."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEND = """
import sys
from config.celery import app
result = app.send_task("incidents.healthcheck", args=[sys.argv[1]], queue=sys.argv[2])
print(result.get(timeout=90)["nonce"], result.get()["select"])
"""


def _run_through_worker(env: dict[str, str]) -> str:
    queue = f"healthcheck-{uuid.uuid4().hex[:8]}"  # a private queue: no other worker can take the task
    nonce = uuid.uuid4().hex
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "-Q", queue,
         "--without-gossip", "--without-mingle", "--loglevel=WARNING"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        sent = subprocess.run(
            [sys.executable, "-c", SEND, nonce, queue],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        worker.terminate()
        worker_output = worker.communicate(timeout=30)[0]
    assert sent.returncode == 0, sent.stderr + worker_output
    assert sent.stdout.split() == [nonce, "1"]
    return worker_output


def _env(**overrides: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in {"REDIS_URL", "DATABASE_URL"}}
    env.update({"DEBUG": "true"}, **overrides)
    return env


@pytest.mark.slow
def test_worker_runs_a_task_through_the_embedded_broker(tmp_path):
    _run_through_worker(_env(HINDSIGHT_VAR_DIR=str(tmp_path)))
    assert (tmp_path / "celery" / "broker").is_dir()


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="REDIS_URL is not set")
def test_worker_runs_a_task_through_redis(tmp_path):
    _run_through_worker(_env(HINDSIGHT_VAR_DIR=str(tmp_path), REDIS_URL=os.environ["REDIS_URL"]))
    assert not any((tmp_path / "celery" / "broker").glob("*")), "the embedded broker must not be used"
