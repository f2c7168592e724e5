"""Shared helpers of the reliability checks (docs/reliability.md): hostile strings, PostgreSQL-only runs, threads
released together, every route of the URL resolver, and API tools with fresh throttle counts."""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings as django_settings
from django.contrib.contenttypes.models import ContentType
from django.db import connection, connections
from django.urls import URLPattern, URLResolver, get_resolver

from incidents.models import (
    ApiToken,
    ChatWebhook,
    DigestDelivery,
    DigestSubscription,
    Hook,
    HookDelivery,
    IdempotencyRecord,
    Incident,
    WebhookDelivery,
    WebhookSubscription,
)
from incidents.services import api_token_create, incident_revision_record, near_miss_report
from incidents.services.reports import report_generate, unsubscribe_token
from incidents.weeks import Week
from tests.api.conftest import Tool, other_writer, reader, writer  # noqa: F401 - the API tests' token personas
from tests.factories import (
    ActionItemFactory,
    DeploymentFactory,
    IncidentFactory,
    ReleaseFactory,
    TimelineEntryFactory,
    cause,
)

DATA = Path(__file__).resolve().parent / "data"

requires_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (set DATABASE_URL): SQLite serialises whole-database writes",
)


def blns() -> list[str]:
    """The Big List of Naughty Strings (MIT, data/blns-LICENSE), every string of it."""
    return json.loads((DATA / "blns.json").read_text(encoding="utf-8"))


def blns_section(title: str) -> list[str]:
    """The strings of one section of blns.txt (e.g. "Script Injection"), as written there."""
    strings: list[str] = []
    inside = False
    for line in (DATA / "blns.txt").read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
            if heading and not heading.startswith("Strings"):
                inside = heading == title
            continue
        if inside and line.strip():
            strings.append(line)
    return strings


def run_together(count: int, call: Callable[[int], object], *, timeout: float = 60) -> list:
    """Run `call(i)` for i in range(count) on threads released at the same moment; returns their results.

    Each thread has its own database connection, closed when it is done. An exception in a thread is
    returned in its place, so that the caller sees it.
    """
    barrier = threading.Barrier(count, timeout=timeout)
    results: list = [None] * count

    def worker(index: int) -> None:
        try:
            barrier.wait()
            results[index] = call(index)
        except Exception as error:  # handed back to the test, which asserts on it
            results[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout * 2)
    assert not any(thread.is_alive() for thread in threads), "a request never finished"
    return results


@dataclass(frozen=True)
class Route:
    pattern: str  # the full pattern, e.g. "incidents/<str:reference>/edit/"
    name: str | None  # namespaced, e.g. "incidents:incident_edit"; None for unnamed admin redirects


def _walk(patterns, prefix: str = "", namespace: str = "") -> Iterator[Route]:
    for item in patterns:
        if isinstance(item, URLResolver):
            inner = namespace + (f"{item.namespace}:" if item.namespace else "")
            yield from _walk(item.url_patterns, prefix + str(item.pattern), inner)
        elif isinstance(item, URLPattern):
            yield Route(prefix + str(item.pattern), f"{namespace}{item.name}" if item.name else None)


def all_routes() -> list[Route]:
    """Every route the project serves, as the URL resolver knows them."""
    return list(_walk(get_resolver().url_patterns))


@pytest.fixture(autouse=True)
def _fresh_throttle_counts(settings):
    """Each test counts API writes from zero: a cache namespace of its own (also on a shared Redis)."""
    caches = {alias: dict(config) for alias, config in django_settings.CACHES.items()}
    for config in caches.values():
        config["KEY_PREFIX"] = f"test-{uuid.uuid4().hex}"
    settings.CACHES = caches


class World:
    """One row of everything a route can name, owned by the payments team."""

    def __init__(self, *, reporter, lead, outsider, admin_user, team, other_team, service, prod) -> None:
        self.users = {"reporter": reporter, "lead": lead, "outsider": outsider, "admin": admin_user}
        self.incident = IncidentFactory(team=team, status=Incident.Status.TRIAGE, services=[service],
                                        causes=["missing-check"], reporter=reporter)  # fmt: skip
        incident_revision_record(incident=self.incident, author_id=reporter.pk)
        filing = near_miss_report(
            reporter=reporter, team=team, title="Token nearly pushed", summary="A hook stopped it.",
            environment=prod, caught_by=Incident.CaughtBy.AUTOMATED_CHECK, confidential=True,
            causes=[cause("secret-handling")],
        )  # fmt: skip
        self.confidential, self.receipt_code = filing.incident, filing.receipt_code
        incident_revision_record(incident=self.confidential, author_id=None)
        self.action_item = ActionItemFactory(incident=self.incident, team=team)
        TimelineEntryFactory(incident=self.incident)
        TimelineEntryFactory(incident=self.confidential)
        self.release = ReleaseFactory(service=service, version="1.0.0")
        self.deployment = DeploymentFactory(release=self.release)
        self.week = Week.last()
        report_generate(week=self.week, team=None)
        token, _ = api_token_create(name="ci", team=team, scope=ApiToken.Scope.WRITE)
        IdempotencyRecord.objects.create(token=token, key="k-1", request_fingerprint="0" * 64)
        DigestSubscription.objects.create(user=lead, subscribed=True)
        DigestDelivery.objects.create(user=lead, week_start=self.week.monday)
        hook = Hook.objects.create(name="acme/checkout", team=team, service=service, secret="s" * 32)
        HookDelivery.objects.create(source="github", hook=hook, delivery_id="guid-1", outcome="recorded")
        ChatWebhook.objects.create(team=team, kind="slack", url="https://hooks.slack.com/services/T0/B0/FAKE0000")
        self.subscription = WebhookSubscription.objects.create(
            name="Jira", team=team, url="https://jira.example/h"
        )
        WebhookDelivery.objects.create(subscription=self.subscription, event_type="webhook.test")
        self.unsubscribe = unsubscribe_token(reporter)
        seen = {"user_agent": "curl", "ip_address": "198.51.100.7", "username": "otto", "http_accept": "*/*",
                "path_info": "/accounts/login/"}  # fmt: skip
        AccessAttempt.objects.create(**seen, get_data="", post_data="", failures_since_start=1)
        AccessLog.objects.create(**seen)
        AccessFailureLog.objects.create(**seen)

    def admin_object_id(self, model: str) -> int:
        from django.apps import apps

        app_label = {"user": "auth", "group": "auth"}.get(
            model, "axes" if model.startswith("access") else "incidents"
        )
        if model == "group":
            from django.contrib.auth.models import Group

            return Group.objects.get_or_create(name="responders")[0].pk
        return apps.get_model(app_label, model).objects.order_by("pk").values_list("pk", flat=True).first()


def route_id(route) -> str:
    return route.name or route.pattern


def fill(route, world: World, *, confidential: bool) -> str:
    """The route's URL with real values for its parameters."""
    incident = world.confidential if confidential else world.incident
    model = re.match(r"admin/(?:auth|incidents|axes)/(\w+)/", route.pattern)
    values = {
        "reference": incident.reference, "version": "1", "code": world.receipt_code, "token": world.unsubscribe,
        "week": world.week.label, "scope": "organisation", "name": "counts", "slug": "prod",
        "uidb64": "MQ", "app_label": "incidents", "url": "nowhere/",
        "content_type_id": str(ContentType.objects.get_for_model(Incident).pk), "id": str(world.users["reporter"].pk),
        "object_id": str(world.incident.pk), "kind": "slack",
    }  # fmt: skip
    if model:
        values["object_id"] = str(world.admin_object_id(model.group(1)))
    if route.name == "api:cause-detail":
        values["slug"] = "missing-check"
    elif route.name == "api:service-detail":
        values["slug"] = "checkout-api"
    elif route.name in {"api:team-detail", "api:team-chat", "incidents:chat_settings", "incidents:webhook_list",
                        "incidents:webhook_act"}:  # fmt: skip
        values["slug"] = "payments"
    if route.name in {"incidents:timeline_edit", "incidents:timeline_delete"}:
        values["key"] = incident.timeline.order_by("pk").first().key
    if route.name in {"incidents:action_item_complete", "incidents:action_item_edit", "api:action-item-detail"}:
        values["pk"] = str(world.action_item.pk)
    elif route.name in {"incidents:release_detail", "api:release-detail"}:
        values["pk"] = str(world.release.pk)
    elif route.name == "api:deployment-detail":
        values["pk"] = str(world.deployment.pk)
    elif route.name == "incidents:token_revoke":  # the team's "ci" token, which no persona uses
        values["pk"] = str(ApiToken.objects.get(name="ci").pk)
    elif route.name == "incidents:webhook_act":  # the team's subscription
        values["pk"] = str(world.subscription.pk)
    if route.name == "incidents:revision_diff":
        values["version"] = str(incident.version)
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: values[m.group(1)], route.pattern)
    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m.group(1)], path)
    return "/" + path.replace("^", "").replace("$", "")


@pytest.fixture
def world(reporter, lead, outsider, admin_user, team, other_team, service, prod) -> World:
    return World(reporter=reporter, lead=lead, outsider=outsider, admin_user=admin_user, team=team,
                 other_team=other_team, service=service, prod=prod)  # fmt: skip
