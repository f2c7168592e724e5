"""Probes and metrics for load balancers, Kubernetes and Prometheus (docs/operations.md).

None of them needs a login, a session or a CSRF token, and none is redirected to HTTPS (SECURE_REDIRECT_EXEMPT);
each still needs a Host header that ALLOWED_HOSTS accepts.
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from kombu import Connection
from prometheus_client import CONTENT_TYPE_LATEST

from incidents.metrics import exposition

logger = logging.getLogger(__name__)


@never_cache
@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness: the process answers. Touches nothing else, so a database outage does not restart it."""
    return HttpResponse("ok", content_type="text/plain")


@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: the database answers, every migration is applied and the Celery broker is reachable."""
    checks = {"database": _run_check("database", _database)}
    # The migration plan reads the database: without one it cannot be known.
    checks["migrations"] = _run_check("migrations", _migrations) if checks["database"] == "ok" else "skipped"
    checks["broker"] = _run_check("broker", _broker)
    failing = [name for name, result in checks.items() if result not in ("ok", "skipped")]
    if failing:
        return JsonResponse({"status": "unavailable", "checks": checks, "failing": failing}, status=503)
    return JsonResponse({"status": "ready", "checks": checks})


def _run_check(name: str, check: Callable[[], str]) -> str:
    try:
        return check()
    except Exception as error:  # any failure means "not ready"; the reason goes to the log, not the answer
        logger.warning("Readiness check %s failed: %r", name, error)
        return "unreachable"


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def _migrations() -> str:
    executor = MigrationExecutor(connection)
    unapplied = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return "ok" if not unapplied else f"{len(unapplied)} unapplied"


def _broker() -> str:
    """Connect to the configured broker (Redis, or the embedded one's folders) with a short timeout."""
    timeout = settings.OUTBOX_BROKER_TIMEOUT
    options = {**getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}), "max_retries": 0}
    options["socket_connect_timeout"] = options["socket_timeout"] = timeout
    with Connection(settings.CELERY_BROKER_URL, connect_timeout=timeout, transport_options=options) as broker:
        broker.ensure_connection(max_retries=0, timeout=timeout)
        if broker.transport_cls == "filesystem":
            return _filesystem_broker(options)
    return "ok"


def _filesystem_broker(options: dict) -> str:
    """The embedded broker has no server: it is reachable when its folders exist and can be written."""
    folders = {options.get("data_folder_in"), options.get("data_folder_out")}
    usable = all(folder and os.path.isdir(folder) and os.access(folder, os.W_OK | os.R_OK) for folder in folders)
    return "ok" if usable else "unreachable"


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text exposition; 404 unless METRICS_ENABLED, 401 without METRICS_TOKEN when one is set."""
    if not settings.METRICS_ENABLED:
        raise Http404
    if settings.METRICS_TOKEN and not _bearer_matches(request, settings.METRICS_TOKEN):
        response = HttpResponse("A bearer token is required.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)


def _bearer_matches(request: HttpRequest, token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
