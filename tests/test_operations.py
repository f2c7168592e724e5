"""Operators see trouble coming: probes, Prometheus metrics and outbox messages that gave up (docs/operations.md)."""

from __future__ import annotations

import datetime as dt
import logging
import socket
from unittest import mock

import pytest
import time_machine
from django.db.migrations import Migration
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from incidents import tasks
from incidents.models import DigestDelivery, OutboxMessage, TrendReport
from incidents.outbox import MAX_ATTEMPTS
from tests.factories import TeamFactory, UserFactory
from tests.test_settings import _start

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
METRICS_TOKEN = "scrape-token-for-tests"


@pytest.fixture
def metrics_on(settings):
    settings.METRICS_ENABLED = True
    settings.METRICS_TOKEN = None
    return settings


def scrape(client, **headers) -> dict[tuple[str, tuple], float]:
    """The samples of /metrics as {(name, sorted labels): value}."""
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens there once the socket is closed


# --- Probes -----------------------------------------------------------------------------------------------


def test_liveness_probe_answers_ok_without_touching_the_database(client):
    # No django_db mark: any database access here would fail the test.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok"


@pytest.mark.django_db
def test_readiness_probe_is_ready_when_database_migrations_and_broker_are_fine(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "migrations": "ok", "broker": "ok"}}


@pytest.mark.django_db
def test_readiness_probe_names_the_broker_when_it_is_unreachable(client, settings):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{closed_port()}/0"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["broker"]
    assert body["checks"] == {"database": "ok", "migrations": "ok", "broker": "unreachable"}
    assert "127.0.0.1" not in response.content.decode(), "the broker's address must not be published"


@pytest.mark.django_db
def test_readiness_probe_names_unapplied_migrations(client):
    unapplied = [(Migration("0999_not_yet_applied", "incidents"), False)]
    with mock.patch.object(MigrationExecutor, "migration_plan", return_value=unapplied):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["migrations"]
    assert response.json()["checks"]["migrations"] == "1 unapplied"


@pytest.mark.django_db
def test_probes_and_metrics_are_answered_over_plain_http_while_pages_redirect_to_https(client, metrics_on):
    metrics_on.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/metrics").status_code == 200
    assert client.get(reverse("login")).status_code == 301


@pytest.mark.django_db
def test_probes_need_no_login_and_set_no_session_or_csrf_cookie(settings):
    settings.METRICS_ENABLED = True
    probe = Client(enforce_csrf_checks=True)
    for path in ("/healthz", "/readyz", "/metrics"):
        response = probe.get(path)
        assert response.status_code == 200, path
        assert not response.cookies, path
    assert probe.head("/healthz").status_code == 200


# --- /metrics protection ----------------------------------------------------------------------------------


def test_metrics_are_not_found_unless_enabled(client, settings):
    settings.METRICS_ENABLED = False
    assert client.get("/metrics").status_code == 404


@pytest.mark.django_db
def test_metrics_require_the_bearer_token_when_one_is_set(client, metrics_on):
    metrics_on.METRICS_TOKEN = METRICS_TOKEN
    missing = client.get("/metrics")
    assert missing.status_code == 401
    assert missing["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong-token"}).status_code == 401
    assert scrape(client, Authorization=f"Bearer {METRICS_TOKEN}")


def test_a_metrics_token_without_metrics_enabled_stops_start_up(tmp_path):
    result = _start({"DEBUG": "true", "HINDSIGHT_VAR_DIR": str(tmp_path), "METRICS_TOKEN": "abc"})
    assert result.returncode != 0
    assert "METRICS_TOKEN is set but METRICS_ENABLED is not true" in result.stderr


# --- Request metrics --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_requests_are_counted_by_route_name_and_status_never_by_path(client, metrics_on):
    client.get("/incidents/INC-424242/")  # anonymous: sent to the login page
    client.get("/no-such-page-8675309/")
    samples = scrape(client)
    detail = ("route", "incidents:incident_detail"), ("status", "302")
    assert samples[("hindsight_http_requests_total", detail)] >= 1
    assert samples[("hindsight_http_requests_total", (("route", "unmatched"), ("status", "404")))] >= 1
    assert (
        samples[("hindsight_http_request_duration_seconds_count", (("route", "incidents:incident_detail"),))] >= 1
    )
    labels = {value for _, pairs in samples for _, value in pairs}
    assert not any("424242" in value or "8675309" in value for value in labels)


@pytest.mark.django_db
def test_receiver_deliveries_show_by_outcome_under_their_hook_route(client, metrics_on):
    before = scrape(client).get(
        ("hindsight_http_requests_total", (("route", "api:hook-alertmanager"), ("status", "401"))), 0
    )
    response = client.post("/api/v1/hooks/alertmanager/", {"alerts": []}, content_type="application/json")
    assert response.status_code == 401
    after = scrape(client)[
        ("hindsight_http_requests_total", (("route", "api:hook-alertmanager"), ("status", "401")))
    ]
    assert after == before + 1


# --- Database metrics -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_metrics_show_the_outbox_backlog_and_the_messages_that_gave_up(client, metrics_on):
    with time_machine.travel(NOW, tick=False):
        OutboxMessage.objects.create(handler="incident_filed", created_at=NOW - dt.timedelta(seconds=300))
        OutboxMessage.objects.create(handler="report_generate", attempts=2, last_error="RuntimeError()")
        OutboxMessage.objects.create(handler="incident_filed", created_at=NOW - dt.timedelta(days=2),
                                     attempts=MAX_ATTEMPTS, last_error="SMTPException()")  # fmt: skip
        OutboxMessage.objects.create(handler="incident_filed", created_at=NOW - dt.timedelta(days=9),
                                     processed_at=NOW - dt.timedelta(days=9), attempts=1)  # fmt: skip
        samples = scrape(client)
    assert samples[("hindsight_outbox_pending_messages", (("handler", "incident_filed"),))] == 1
    assert samples[("hindsight_outbox_pending_messages", (("handler", "report_generate"),))] == 1
    assert samples[("hindsight_outbox_gave_up_messages", (("handler", "incident_filed"),))] == 1
    assert samples[("hindsight_outbox_gave_up_messages", (("handler", "report_generate"),))] == 0
    # The message that gave up is not "pending": it would keep the backlog alert firing for ever.
    assert samples[("hindsight_outbox_oldest_pending_age_seconds", ())] == 300
    assert samples[("hindsight_metrics_database_up", ())] == 1


@pytest.mark.django_db
def test_metrics_show_report_and_digest_outcomes_from_the_database(client, metrics_on):
    team = TeamFactory(slug="payments")
    monday = dt.date(2026, 11, 16)
    TrendReport.objects.create(week_start=monday, scope="organisation", status=TrendReport.Status.READY,
                               requested_at=NOW, generated_at=NOW + dt.timedelta(seconds=42))  # fmt: skip
    TrendReport.objects.create(week_start=monday, scope="team:payments", team=team, status="failed", error="boom")
    DigestDelivery.objects.create(user=UserFactory(), week_start=monday, status=DigestDelivery.Status.SENT)
    DigestDelivery.objects.create(user=UserFactory(), week_start=monday, status=DigestDelivery.Status.FAILED)
    samples = scrape(client)
    assert samples[("hindsight_trend_reports", (("status", "ready"),))] == 1
    assert samples[("hindsight_trend_reports", (("status", "failed"),))] == 1
    assert samples[("hindsight_trend_reports", (("status", "running"),))] == 0
    assert samples[("hindsight_trend_report_last_generation_seconds", ())] == 42
    assert (
        samples[("hindsight_trend_report_last_generated_timestamp_seconds", ())]
        == (NOW + dt.timedelta(seconds=42)).timestamp()
    )
    assert samples[("hindsight_digest_deliveries", (("status", "sent"),))] == 1
    assert samples[("hindsight_digest_deliveries", (("status", "failed"),))] == 1


@pytest.mark.django_db
def test_last_generation_duration_covers_the_aggregation_of_a_generated_report(client, metrics_on):
    from incidents.services import reports as report_services

    aggregate = report_services.report_data
    with time_machine.travel(NOW, tick=False) as clock:

        def slow_aggregation(**kwargs):
            data = aggregate(**kwargs)
            clock.shift(dt.timedelta(seconds=7))  # the queries took seven seconds
            return data

        with mock.patch.object(report_services, "report_data", side_effect=slow_aggregation):
            assert tasks.report_generate_task.run("2026-11-16") == "ready"
        samples = scrape(client)
    # One run computes both audiences (everyone, then confidential): seven seconds each, from the same claim.
    assert samples[("hindsight_trend_report_last_generation_seconds", ())] == 14
    assert samples[("hindsight_trend_reports", (("status", "ready"),))] == 2


# --- Outbox messages that give up -------------------------------------------------------------------------


def _failing_message(attempts: int) -> OutboxMessage:
    return OutboxMessage.objects.create(handler="incident_filed", payload={"incident_id": 1}, attempts=attempts)


@pytest.mark.django_db
def test_a_message_that_gives_up_logs_an_error_naming_handler_id_and_last_error(caplog):
    message = _failing_message(attempts=MAX_ATTEMPTS - 1)
    with (
        mock.patch("incidents.services.incident_notify_leads", side_effect=RuntimeError("SMTP relay refused")),
        caplog.at_level(logging.ERROR, logger="incidents.outbox"),
        pytest.raises(RuntimeError),
    ):
        tasks.outbox_process_task(message.pk)
    errors = [record.getMessage() for record in caplog.records if record.levelno == logging.ERROR]
    assert len(errors) == 1
    assert f"message {message.pk} (incident_filed) gave up after {MAX_ATTEMPTS} attempts" in errors[0]
    assert "SMTP relay refused" in errors[0]


@pytest.mark.django_db
def test_a_failure_that_will_be_retried_logs_no_error(caplog):
    message = _failing_message(attempts=0)
    with (
        mock.patch("incidents.services.incident_notify_leads", side_effect=RuntimeError("SMTP relay refused")),
        caplog.at_level(logging.ERROR, logger="incidents.outbox"),
        pytest.raises(RuntimeError),
    ):
        tasks.outbox_process_task(message.pk)
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


@pytest.mark.django_db
def test_admin_filters_and_counts_the_messages_that_gave_up(client, admin_user):
    gave_up = _failing_message(attempts=MAX_ATTEMPTS)
    waiting = _failing_message(attempts=1)
    done = OutboxMessage.objects.create(
        handler="incident_filed", attempts=MAX_ATTEMPTS, processed_at=timezone.now()
    )
    client.force_login(admin_user)
    changelist = reverse("admin:incidents_outboxmessage_changelist")

    response = client.get(changelist, {"gave_up": "yes"})
    assert response.status_code == 200
    content = response.content.decode()
    assert "Outbox messages: 1 gave up" in content
    assert reverse("admin:incidents_outboxmessage_change", args=[gave_up.pk]) in content
    assert reverse("admin:incidents_outboxmessage_change", args=[waiting.pk]) not in content
    assert reverse("admin:incidents_outboxmessage_change", args=[done.pk]) not in content

    others = client.get(changelist, {"gave_up": "no"}).content.decode()
    assert reverse("admin:incidents_outboxmessage_change", args=[gave_up.pk]) not in others
    assert reverse("admin:incidents_outboxmessage_change", args=[waiting.pk]) in others
