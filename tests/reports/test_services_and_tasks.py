"""Generation is idempotent, "generate now" enqueues after commit, tasks retry within bounds, the beat entry
fires on the configured weekday and time, and percentiles follow the nearest-rank definition on any database."""

from __future__ import annotations

import datetime as dt
import math
import os
import random
import subprocess
import sys
from unittest import mock

import pytest
import time_machine
from celery.schedules import crontab
from django.conf import settings as django_settings
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from config.celery import app
from incidents import tasks
from incidents.models import DigestDelivery, TrendReport
from incidents.outbox import outbox_process
from incidents.selectors.reports import report_data
from incidents.services.reports import report_generate, report_request
from incidents.weeks import Week
from tests.factories import IncidentFactory
from tests.reports.conftest import REPORT_WEEK, at

pytestmark = pytest.mark.django_db


def test_weekly_report_is_idempotent(golden, team):
    week = Week.parse(REPORT_WEEK)
    first = report_generate(week=week, team=team)
    assert first.status == TrendReport.Status.READY and first.data["counts"]["near_misses"][-1] == 3
    IncidentFactory(team=team, kind="near_miss", started_at=at("2026-01-02 10:00"))
    second = report_generate(week=week, team=team)
    assert second.pk == first.pk
    stored = TrendReport.objects.filter(week_start=week.monday, scope="team:payments")
    assert sorted(stored.values_list("audience", "status")) == [("confidential", "ready"), ("everyone", "ready")]
    assert all(report.data["counts"]["near_misses"][-1] == 4 for report in stored), "regenerating replaces both"


def test_a_failing_generation_marks_the_report_failed_and_keeps_the_reason(golden):
    week = Week.parse(REPORT_WEEK)
    failing = mock.patch("incidents.services.reports.report_data", side_effect=RuntimeError("database went away"))
    with failing, pytest.raises(RuntimeError):
        report_generate(week=week, team=None)
    for report in TrendReport.objects.filter(week_start=week.monday, scope="organisation"):
        assert report.status == TrendReport.Status.FAILED and "database went away" in report.error


def test_generate_now_enqueues_once_the_transaction_commits(
    golden, lead, team, django_capture_on_commit_callbacks
):
    week = Week.parse(REPORT_WEEK)
    with mock.patch.object(tasks.outbox_process_task, "apply_async") as publish:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            report = report_request(week=week, team=team, user=lead)
        assert report.status == TrendReport.Status.PENDING and not publish.called
        for callback in callbacks:
            callback()
    (message_id,) = publish.call_args.kwargs["args"]
    with mock.patch.object(tasks.report_generate_task, "delay") as delay:
        assert outbox_process(message_id=message_id) is True
        assert outbox_process(message_id=message_id) is False  # dispatched twice, run once
    delay.assert_called_once_with("2025-12-29", team.pk)


def test_only_leads_and_admins_can_generate_now(golden, reporter, outsider, team, lead):
    week = Week.parse(REPORT_WEEK)
    for person, scope in ((reporter, team), (outsider, team), (reporter, None)):
        with pytest.raises(ValidationError, match="Only a lead"):
            report_request(week=week, team=scope, user=person)
    assert not TrendReport.objects.exists()


def test_generate_now_refuses_a_week_that_has_not_started(lead, team, frozen):
    with pytest.raises(ValidationError, match="has not started"):
        report_request(week=Week.parse("2026-W05"), team=team, user=lead)


def test_generate_task_runs_the_service_for_ids_and_iso_dates(golden, team):
    assert tasks.report_generate_task("2025-12-29", team.pk) == "ready"
    assert [report.data["week"] for report in TrendReport.objects.filter(scope="team:payments")] == [
        "2026-W01"
    ] * 2


def test_generate_task_returns_quietly_when_the_team_is_gone(golden):
    assert tasks.report_generate_task("2025-12-29", 999_999) == "team gone"
    assert not TrendReport.objects.exists()


def test_generate_task_is_acks_late_with_bounded_retries_and_time_limits():
    task = tasks.report_generate_task
    assert task.acks_late is True
    assert task.max_retries == django_settings.REPORT_TASK_MAX_RETRIES == 3
    assert task.soft_time_limit == django_settings.REPORT_TASK_TIME_LIMIT
    assert task.time_limit > task.soft_time_limit
    assert [tasks._backoff(n) for n in range(3)] == [30, 60, 120]
    assert tasks._backoff(20) == 3600


def test_generate_task_retries_then_gives_up_and_records_the_failure(golden):
    with mock.patch("incidents.services.reports.report_data", side_effect=RuntimeError("boom")) as compute:
        result = tasks.report_generate_task.apply(args=["2025-12-29", None])
    assert result.get() == "failed"
    assert compute.call_count == django_settings.REPORT_TASK_MAX_RETRIES + 1
    for report in TrendReport.objects.filter(scope="organisation"):
        assert report.status == "failed" and "Gave up after 3 retries: boom" in report.error


@pytest.fixture
def eager_celery():
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def test_weekly_run_generates_every_scope_then_sends_each_lead_one_digest(golden, lead, eager_celery, mailoutbox):
    with time_machine.travel(at("2026-01-05 06:00"), tick=False):  # Monday 07:00 in Paris
        assert tasks.reports_weekly_task() == "2026-W01"
        assert set(TrendReport.objects.values_list("scope", "status")) == {
            ("organisation", "ready"), ("team:payments", "ready"), ("team:platform", "ready"), ("team:growth", "ready"),
        }  # fmt: skip
        assert TrendReport.objects.filter(audience="confidential").count() == 4
        assert [message.to for message in mailoutbox] == [[lead.email]]
        tasks.reports_weekly_task()  # a second run (a redelivered beat message) replaces, and mails nobody
    assert len(mail.outbox) == 1
    assert DigestDelivery.objects.get().status == "sent"
    assert TrendReport.objects.count() == 8  # four scopes, two audiences each


def test_beat_schedule_generates_weekly_on_the_configured_day_and_time():
    entry = django_settings.CELERY_BEAT_SCHEDULE["weekly-trend-reports"]
    assert entry["task"] == tasks.reports_weekly_task.name and entry["task"] in app.tasks
    schedule: crontab = entry["schedule"]
    assert schedule.day_of_week == {1} and schedule.hour == {7} and schedule.minute == {0}
    assert django_settings.CELERY_TIMEZONE == django_settings.TIME_ZONE


@pytest.mark.parametrize(("now", "due"), [("2026-01-05 06:59", False), ("2026-01-05 07:00", True)])
def test_beat_entry_is_due_on_monday_at_report_time(now, due):
    schedule: crontab = django_settings.CELERY_BEAT_SCHEDULE["weekly-trend-reports"]["schedule"]
    with time_machine.travel(at(now), tick=False):
        assert schedule.is_due(at("2025-12-29 07:00")).is_due is due


def test_beat_schedule_follows_report_weekday_and_time(tmp_path):
    script = (
        "from django.conf import settings; s = settings.CELERY_BEAT_SCHEDULE['weekly-trend-reports']['schedule'];"
        "print(sorted(s.day_of_week), sorted(s.hour), sorted(s.minute))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "true", "HINDSIGHT_VAR_DIR": str(tmp_path),
           "REPORT_WEEKDAY": "friday", "REPORT_TIME": "18:45"}  # fmt: skip
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["[5]", "[18]", "[45]"]


def nearest_rank(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(fraction * len(ordered)) - 1]


def test_percentiles_follow_the_nearest_rank_definition(team, frozen):
    rng = random.Random(7)
    start = timezone.now() - dt.timedelta(days=2)
    expected: dict[str, list[int]] = {"sev1": [], "sev2": []}
    for severity, count in (("sev1", 7), ("sev2", 20)):
        for _ in range(count):
            seconds = rng.randint(1, 50_000)
            expected[severity].append(seconds)
            IncidentFactory(
                team=team, severity=severity, started_at=start, detected_at=start + dt.timedelta(seconds=seconds)
            )
    durations = report_data(week=Week.current(), team=None)["durations"]["time_to_detect"]
    for severity, values in expected.items():
        assert durations[severity] == {"median": nearest_rank(values, 0.5), "p90": nearest_rank(values, 0.9)}
