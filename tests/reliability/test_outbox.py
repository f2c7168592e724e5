"""R6 and R7: follow-up work goes through a transactional outbox.

R6: with Redis down, filing through the form and the API still succeeds within 2 seconds; once Redis is back,
a real worker runs the follow-up work (the leads' e-mail) exactly once. R7: a transaction that rolls back
enqueues nothing.
"""

from __future__ import annotations

import email
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import pytest
from django.db import transaction
from django.urls import reverse

from config.celery import app
from incidents import tasks
from incidents.models import ApiToken, Incident, OutboxMessage
from incidents.outbox import outbox_dispatch, outbox_process, outbox_relay
from incidents.policies import viewer_for_team
from incidents.services import api_token_create, incident_create
from tests.api.conftest import Tool
from tests.factories import cause
from tests.workers import requires_postgresql_url, test_database_url

ROOT = Path(__file__).resolve().parents[2]
FILING_BUDGET = 2.0  # seconds


def near_miss_form(team, staging) -> dict:
    return {"title": "Backup job would have filled the disk", "summary": "Caught in staging.",
            "environment": staging.pk, "caught_by": "automated_check", "causes": [cause("capacity-limit").pk],
            "team": team.pk}  # fmt: skip


# --- R7 ---------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_rolled_back_transaction_enqueues_nothing(team, django_capture_on_commit_callbacks):
    with (
        mock.patch.object(tasks.outbox_process_task, "apply_async") as publish,
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        incident_create(
            actor=viewer_for_team(team), team=team, kind="incident", title="Half-filed", status="draft"
        )
        assert OutboxMessage.objects.count() == 1
        raise RuntimeError("something failed after the incident was written")
    assert callbacks == []
    assert not publish.called
    assert not OutboxMessage.objects.exists() and not Incident.objects.exists()


@pytest.mark.django_db
def test_a_committed_filing_is_handed_over_once(
    client, reporter, team, staging, django_capture_on_commit_callbacks
):
    client.force_login(reporter)
    with (
        mock.patch.object(tasks.outbox_process_task, "apply_async") as publish,
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert client.post(reverse("incidents:near_miss_create"), near_miss_form(team, staging)).status_code == 302
    message = OutboxMessage.objects.get()
    assert publish.call_args.kwargs["args"] == [message.pk]
    assert message.dispatched_at is not None


@pytest.mark.django_db
def test_a_message_dispatched_twice_runs_once_and_a_failure_is_retried(team, lead, mailoutbox):
    incident = incident_create(
        actor=viewer_for_team(team), team=team, kind="incident", title="Disk full", status="draft"
    ).obj
    message = OutboxMessage.objects.get()
    assert outbox_process(message_id=message.pk) is True
    assert outbox_process(message_id=message.pk) is False
    assert [mail.subject for mail in mailoutbox] == [
        f"[Hindsight] {incident.reference} filed for Payments: Disk full"
    ]
    assert mailoutbox[0].to == [lead.email]

    failing = OutboxMessage.objects.create(handler="incident_filed", payload={"incident_id": "not-a-number"})
    with pytest.raises(ValueError):
        outbox_process(message_id=failing.pk)
    failing.refresh_from_db()
    assert (failing.processed_at, failing.claimed_at, failing.attempts) == (None, None, 1)
    assert "not-a-number" in failing.last_error
    with mock.patch.object(tasks.outbox_process_task, "apply_async") as publish:
        outbox_relay()
    assert [call.kwargs["args"] for call in publish.call_args_list] == [[failing.pk]]


# --- R6 ---------------------------------------------------------------------------------------------------


@contextmanager
def broker_at(url: str) -> Iterator[None]:
    """Point this process's Celery app at `url` for a while."""
    before = {"broker_url": app.conf.broker_url, "broker_write_url": app.conf.broker_write_url}
    app.conf.update(broker_url=url, broker_write_url=url)
    try:
        yield
    finally:
        app.conf.update(**before)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def _mails(folder: Path) -> list[str]:
    """Subjects of the mails Django's file backend wrote (messages separated by a line of dashes)."""
    subjects = []
    for path in folder.glob("*.log"):
        for chunk in path.read_text().split("-" * 79):
            if chunk.strip():
                subjects.append(str(email.message_from_string(chunk.strip() + "\n")["Subject"]).replace("\n", ""))
    return subjects


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
@requires_postgresql_url
@pytest.mark.django_db(transaction=True)
def test_filing_survives_redis_being_down_and_the_follow_up_runs_once_it_returns(
    client, reporter, lead, team, staging, tmp_path, settings
):
    port = _free_port()  # nothing listens here yet: Redis is down
    broker = f"redis://127.0.0.1:{port}/0"
    # The API's throttle counts in the same Redis: it must let writes through while Redis is away.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": broker}}
    token, raw = api_token_create(name="pager", team=team, scope=ApiToken.Scope.WRITE)
    client.force_login(reporter)
    with broker_at(broker):
        began = time.monotonic()
        form = client.post(reverse("incidents:near_miss_create"), near_miss_form(team, staging))
        form_seconds = time.monotonic() - began
        began = time.monotonic()
        api = Tool(token, raw).post(
            "/api/v1/incidents/", {"kind": "incident", "title": "API down", "status": "draft"}
        )
        api_seconds = time.monotonic() - began
    assert form.status_code == 302 and api.status_code == 201, api.content
    assert form_seconds < FILING_BUDGET and api_seconds < FILING_BUDGET, (form_seconds, api_seconds)
    assert OutboxMessage.objects.filter(dispatched_at__isnull=True, processed_at__isnull=True).count() == 2

    redis = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    mail = tmp_path / "var" / "mail"
    env = {**os.environ, "DEBUG": "true", "DATABASE_URL": test_database_url(), "REDIS_URL": broker,
           "HINDSIGHT_VAR_DIR": str(tmp_path / "var"), "EMAIL_BACKEND": "file", "OUTBOX_RELAY_SECONDS": "1",
           # Beat's first start would generate last week's reports and mail their digests: not what this counts.
           "REPORT_CATCH_UP_ON_START": "false"}  # fmt: skip
    worker = None
    try:
        _wait(lambda: subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).returncode == 0,
              10, "Redis to start")  # fmt: skip
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--beat", "--pool=solo", "--without-gossip",
             "--without-mingle", "--loglevel=WARNING", "--schedule", str(tmp_path / "beat-schedule")],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        _wait(
            lambda: not OutboxMessage.objects.filter(processed_at__isnull=True).exists(),
            60,
            "the relay and worker",
        )
        # Hand everything over again: the worker finds each message already run and sends nothing more.
        with broker_at(broker):
            assert outbox_dispatch(message_ids=OutboxMessage.objects.values_list("pk", flat=True)) == 2
        time.sleep(3)
    finally:
        if worker is not None:
            worker.terminate()
            output = worker.communicate(timeout=30)[0]
        redis.terminate()
        redis.wait(timeout=10)
    subjects = sorted(_mails(mail))
    filed = sorted(f"[Hindsight] {incident.reference} filed for Payments: {incident.title}"
                   for incident in Incident.objects.all())  # fmt: skip
    assert subjects == filed, output
