"""Prometheus metrics (docs/operations.md lists every name and label).

Two kinds, for two reasons:
- request counters and durations, counted by a middleware in the process that served the request. With several
  gunicorn workers each has its own; set PROMETHEUS_MULTIPROC_DIR and one scrape sums them all.
- the outbox, report and digest numbers, read from the database at scrape time by `DatabaseCollector`, so they
  are right whichever process serves the scrape, the Celery worker's work included.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator

from django.db import DatabaseError
from django.db.models import Count, Min
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from incidents.models import DigestDelivery, TrendReport
from incidents.outbox import outbox_gave_up, outbox_handler_names, outbox_pending

logger = logging.getLogger(__name__)

# Requests that matched no URL pattern (404s, redirects to HTTPS, static files) share one label value, so that
# a client sending random paths cannot create new series.
UNMATCHED_ROUTE = "unmatched"

REQUESTS = Counter(
    "hindsight_http_requests",
    "HTTP requests answered, by URL pattern name and status code.",
    ["route", "status"],
)
REQUEST_DURATION = Histogram(
    "hindsight_http_request_duration_seconds",
    "Time to answer an HTTP request, by URL pattern name.",
    ["route"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)


def route_of(request: HttpRequest) -> str:
    """The matched URL pattern's name (`incidents:incident_detail`), never the raw path."""
    match = getattr(request, "resolver_match", None)
    return match.view_name if match is not None else UNMATCHED_ROUTE


class RequestMetricsMiddleware:
    """Counts and times every answer by route and status. Reads nothing from the session or the database."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        route = route_of(request)
        REQUESTS.labels(route=route, status=str(response.status_code)).inc()
        REQUEST_DURATION.labels(route=route).observe(time.perf_counter() - started)
        return response


# --- Read from the database at scrape time ------------------------------------------------------------------


class DatabaseCollector(Collector):
    """The outbox backlog, report and digest outcomes, counted in the database when Prometheus scrapes."""

    def describe(self) -> list[Metric]:
        return []  # registering must not query the database (it happens at import)

    def collect(self) -> Iterator[Metric]:
        try:
            metrics, database_up = [*outbox_metrics(), *report_metrics(), *digest_metrics()], 1
        except DatabaseError:
            # The request metrics are still worth a scrape; this gauge says the database ones are missing.
            logger.exception("Metrics: the database could not be read.")
            metrics, database_up = [], 0
        yield GaugeMetricFamily(
            "hindsight_metrics_database_up",
            "1 when this scrape read the outbox, report and digest numbers from the database, else 0.",
            value=database_up,
        )
        yield from metrics


def outbox_metrics() -> list[Metric]:
    handlers = outbox_handler_names()
    pending = _gauge_by(
        "hindsight_outbox_pending_messages",
        "Outbox messages waiting to run (not processed, not given up), by handler.",
        "handler",
        handlers,
        outbox_pending(),
    )
    gave_up = _gauge_by(
        "hindsight_outbox_gave_up_messages",
        "Outbox messages that failed MAX_ATTEMPTS times and wait for a person, by handler.",
        "handler",
        handlers,
        outbox_gave_up(),
    )
    oldest = outbox_pending().aggregate(oldest=Min("created_at"))["oldest"]
    age = GaugeMetricFamily(
        "hindsight_outbox_oldest_pending_age_seconds",
        "Age of the oldest outbox message waiting to run; 0 when none waits.",
        value=(timezone.now() - oldest).total_seconds() if oldest else 0.0,
    )
    return [pending, gave_up, age]


def report_metrics() -> list[Metric]:
    by_status = _gauge_by(
        "hindsight_trend_reports",
        "Trend reports stored, by status.",
        "status",
        TrendReport.Status.values,
        TrendReport.objects.all(),
    )
    last = (
        TrendReport.objects.filter(status=TrendReport.Status.READY, generated_at__isnull=False)
        .order_by("-generated_at")
        .values("requested_at", "generated_at")
        .first()
    )
    duration = GaugeMetricFamily(
        "hindsight_trend_report_last_generation_seconds",
        "The most recently generated report: generated_at minus requested_at (its last claim).",
    )
    finished = GaugeMetricFamily(
        "hindsight_trend_report_last_generated_timestamp_seconds",
        "When the most recently generated report was generated (Unix time).",
    )
    if last is not None and (generated_at := last["generated_at"]) is not None:  # not null, as filtered
        duration.add_metric([], max((generated_at - last["requested_at"]).total_seconds(), 0.0))
        finished.add_metric([], generated_at.timestamp())
    return [by_status, duration, finished]


def digest_metrics() -> list[Metric]:
    by_status = _gauge_by(
        "hindsight_digest_deliveries",
        "Digest e-mails (one per person and week), by status.",
        "status",
        DigestDelivery.Status.values,
        DigestDelivery.objects.all(),
    )
    return [by_status]


def _gauge_by(name: str, documentation: str, label: str, values: list[str], queryset) -> GaugeMetricFamily:
    """One GROUP BY query; every known label value is exported, 0 when no row has it."""
    counts = dict.fromkeys(values, 0)
    for row in queryset.order_by().values(label).annotate(n=Count("pk")):
        counts[row[label]] = row["n"]
    gauge = GaugeMetricFamily(name, documentation, labels=[label])
    for value, count in sorted(counts.items()):
        gauge.add_metric([value], count)
    return gauge


DATABASE_REGISTRY = CollectorRegistry(auto_describe=False)
DATABASE_REGISTRY.register(DatabaseCollector())


def exposition() -> bytes:
    """The text exposition: this process's (or, with PROMETHEUS_MULTIPROC_DIR, every process's) request metrics,
    then the numbers read from the database."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        processes = CollectorRegistry()
        multiprocess.MultiProcessCollector(processes)
    else:
        processes = REGISTRY
    return generate_latest(processes) + generate_latest(DATABASE_REGISTRY)
