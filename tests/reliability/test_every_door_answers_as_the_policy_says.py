"""R9 authorization matrix: every door answers each persona as the table of docs/authorization.md says (the
actions, done for real through the web and the API), and every route x (anonymous, reporter, lead, outsider, admin, read token, write token,
another team's token) gets its expected status, and protected fields cannot be mass-assigned.

Routes are enumerated from the URL resolver, so a route added without an expectation here fails the test.
Incident pages are checked twice: on an ordinary item of the payments team and on a confidential near-miss
filed by its reporter (visible to its reporter, the team's leads and admins only; edited by leads and admins).
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from incidents.models import (
    ConfidentialReporter,
    Environment,
    Incident,
    WebhookSubscription,
)
from tests.factories import (
    ActionItemFactory,
    IncidentFactory,
)
from tests.policy_table import policy_table
from tests.reliability.conftest import World, all_routes, fill, route_id

pytestmark = pytest.mark.django_db

# Expected statuses, in the order of PERSONAS:
#   anonymous  reporter  lead  outsider  admin  read token  write token  another team's token
# Web pages ignore tokens (a token is for the API), so token holders are sent to the login page like anyone
# anonymous. API writes take tokens only: a signed-in person may browse, never write (403).
PERSONAS = ("anonymous", "reporter", "lead", "outsider", "admin", "read_token", "write_token", "other_token")
TOKENS = {"read_token": "reader", "write_token": "writer", "other_token": "other_writer"}

# Views that answer only POST; the matrix posts an empty form to them (no state changes follow from it).
POST_ONLY = {
    "incidents:preview", "incidents:incident_status", "incidents:timeline_add", "incidents:action_item_add",
    "incidents:triage_act", "incidents:action_item_complete", "reports:report_generate", "incidents:token_revoke",
    "incidents:timeline_delete", "incidents:triage_bulk", "incidents:webhook_act",
}  # fmt: skip
# API routes with writes: the matrix also sends an empty JSON body with this method.
API_WRITES = {
    "api:incident-list": "POST", "api:incident-detail": "PATCH", "api:action-item-list": "POST",
    "api:action-item-detail": "PATCH", "api:release-list": "POST", "api:deployment-list": "POST",
    "api:hook-alertmanager": "POST", "api:hook-github": "POST", "api:team-chat": "PUT",
    "api:hook-pagerduty": "POST", "api:hook-opsgenie": "POST", "api:hook-grafana": "POST",
    "api:hook-sentry": "POST", "api:hook-datadog": "POST",
}  # fmt: skip
INCIDENT_ROUTES = {
    "incidents:incident_detail", "incidents:incident_edit", "incidents:incident_status", "incidents:timeline_add",
    "incidents:action_item_add", "incidents:incident_history", "incidents:revision_diff", "incidents:triage_act",
    "incidents:near_miss_filed", "api:incident-detail", "incidents:timeline_edit", "incidents:timeline_delete",
}  # fmt: skip


def methods(route) -> list[str]:
    if route.name in POST_ONLY or route.name in {"logout", "admin:logout"}:
        return ["POST"]
    return ["GET", *([API_WRITES[route.name]] if route.name in API_WRITES else [])]


def client_for(persona: str, world: World, tools: dict, *, api: bool):
    if persona in TOKENS:
        client = APIClient() if api else Client()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {tools[persona].raw}") if api else None
        if not api:
            client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {tools[persona].raw}"
        return client
    client = APIClient() if api else Client()
    if persona != "anonymous":
        client.force_login(world.users[persona])
    return client


def send(client, method: str, url: str, *, api: bool) -> int:
    client.raise_request_exception = False
    if api:
        return getattr(client, method.lower())(url, {}, format="json").status_code
    return getattr(client, method.lower())(url).status_code


def matrix(world: World, tools: dict) -> dict[str, str]:
    """What every route answers each persona: "METHOD route [confidential]" → eight statuses."""
    answers = {}
    for route in all_routes():
        api = route.pattern.startswith("api/")
        for confidential in (False, True) if route.name in INCIDENT_ROUTES else (False,):
            url = fill(route, world, confidential=confidential)
            for method in methods(route):
                key = f"{method} {route_id(route)}" + (" [confidential]" if confidential else "")
                statuses = [send(client_for(p, world, tools, api=api), method, url, api=api) for p in PERSONAS]
                answers[key] = " ".join(str(status) for status in statuses)
    return answers


EXPECTED = {
    "GET admin:auth_user_password_change": "302 302 302 302 200 302 302 302",
    "GET admin:index": "302 302 302 302 200 302 302 302",
    "GET admin:login": "200 200 200 200 302 200 200 200",
    "POST admin:logout": "302 302 302 302 302 302 302 302",
    "GET admin:password_change": "302 302 302 302 200 302 302 302",
    "GET admin:password_change_done": "302 302 302 302 200 302 302 302",
    "GET admin:autocomplete": "302 302 302 302 403 302 302 302",
    "GET admin:jsi18n": "302 302 302 302 200 302 302 302",
    "GET admin:view_on_site": "302 302 302 302 404 302 302 302",
    "GET admin:app_list": "302 302 302 302 200 302 302 302",
    "GET admin:incidents_incident_import": "302 302 302 302 200 302 302 302",  # import postmortems: staff
    "GET admin/(?P<url>.*)$": "302 302 302 302 404 302 302 302",
    "GET login": "200 200 200 200 200 200 200 200",
    # Probes answer everyone (docs/operations.md); /metrics is off unless METRICS_ENABLED (its own tests cover
    # the bearer token).
    "GET healthz": "200 200 200 200 200 200 200 200",
    "GET readyz": "200 200 200 200 200 200 200 200",
    "GET metrics": "404 404 404 404 404 404 404 404",
    "POST logout": "302 302 302 302 302 302 302 302",
    # Single sign-on (docs/sso.md) is off here: its pages answer 404, and break-glass only with PASSWORD_LOGIN=false.
    # Its logout is POST-only (405 to a GET); tests/test_sso.py checks these doors with single sign-on on.
    "GET break_glass": "404 404 404 404 404 404 404 404",
    "GET oidc_authentication_init": "404 404 404 404 404 404 404 404",
    "GET oidc_authentication_callback": "404 404 404 404 404 404 404 404",
    "GET oidc_logout": "405 405 405 405 405 405 405 405",
    "GET api:hook-alertmanager": "401 401 401 401 401 403 405 405",
    "POST api:hook-alertmanager": "401 401 401 401 401 403 400 400",
    "GET api:hook-github": "401 401 401 401 401 401 401 401",
    "POST api:hook-github": "401 401 401 401 401 401 401 401",
    # Signed senders (docs/receivers.md): nobody here signs, so every door answers 401. Senders with a bearer token
    # answer as Alertmanager does: a session is no sender (401), a read token is refused (403), the team's write
    # tokens deliver, and the empty body is a 400.
    "GET api:hook-pagerduty": "401 401 401 401 401 401 401 401",
    "POST api:hook-pagerduty": "401 401 401 401 401 401 401 401",
    "GET api:hook-opsgenie": "401 401 401 401 401 403 405 405",
    "POST api:hook-opsgenie": "401 401 401 401 401 403 400 400",
    "GET api:hook-grafana": "401 401 401 401 401 403 405 405",
    "POST api:hook-grafana": "401 401 401 401 401 403 400 400",
    "GET api:hook-sentry": "401 401 401 401 401 401 401 401",
    "POST api:hook-sentry": "401 401 401 401 401 401 401 401",
    "GET api:hook-datadog": "401 401 401 401 401 403 405 405",
    "POST api:hook-datadog": "401 401 401 401 401 403 400 400",
    "GET api:incident-list": "401 200 200 200 200 200 200 200",
    "POST api:incident-list": "401 403 403 403 403 403 400 400",
    "GET api:incident-detail": "401 200 200 200 200 200 200 200",
    "PATCH api:incident-detail": "401 403 403 403 403 403 428 403",
    "GET api:incident-detail [confidential]": "401 200 200 404 200 404 404 404",
    "PATCH api:incident-detail [confidential]": "401 403 403 403 403 403 404 404",
    "GET api:action-item-list": "401 200 200 200 200 200 200 200",
    "POST api:action-item-list": "401 403 403 403 403 403 400 400",
    "GET api:action-item-detail": "401 200 200 200 200 200 200 200",
    "PATCH api:action-item-detail": "401 403 403 403 403 403 200 403",
    "GET api:release-list": "401 200 200 200 200 200 200 200",
    "POST api:release-list": "401 403 403 403 403 403 400 400",
    "GET api:release-detail": "401 200 200 200 200 200 200 200",
    "GET api:deployment-list": "401 200 200 200 200 200 200 200",
    "POST api:deployment-list": "401 403 403 403 403 403 400 400",
    "GET api:deployment-detail": "401 200 200 200 200 200 200 200",
    "GET api:cause-list": "401 200 200 200 200 200 200 200",
    "GET api:cause-detail": "401 200 200 200 200 200 200 200",
    "GET api:environment-list": "401 200 200 200 200 200 200 200",
    "GET api:environment-detail": "401 200 200 200 200 200 200 200",
    "GET api:service-list": "401 200 200 200 200 200 200 200",
    "GET api:service-detail": "401 200 200 200 200 200 200 200",
    "GET api:team-list": "401 200 200 200 200 200 200 200",
    "GET api:team-detail": "401 200 200 200 200 200 200 200",
    "GET api:report-list": "401 200 200 200 200 200 200 200",
    "GET api:report-detail": "401 200 200 200 200 200 200 200",
    "GET api:api-root": "401 200 200 200 200 200 200 200",
    "GET api:schema": "200 200 200 200 200 200 200 200",
    "GET api:docs": "200 200 200 200 200 200 200 200",
    "GET api/": "404 404 404 404 404 404 404 404",
    "GET reports:report_list": "302 200 200 200 200 302 302 302",
    "POST reports:report_generate": "302 403 400 403 400 302 302 302",
    "GET reports:subscription": "302 200 200 200 200 302 302 302",
    # One's own digest as mailed: leads and admins get it by default; members who have not subscribed do not.
    "GET reports:digest_preview": "302 403 200 403 200 302 302 302",
    "GET reports:unsubscribe": "200 200 200 200 200 200 200 200",
    "GET reports:report_detail": "302 200 200 200 200 302 302 302",
    "GET reports:report_json": "302 200 200 200 200 302 302 302",
    "GET reports:report_csv": "302 200 200 200 200 302 302 302",
    "GET reports:report_chart": "302 200 200 200 200 302 302 302",
    "GET incidents:home": "302 200 200 200 200 302 302 302",
    "GET incidents:incident_list": "302 200 200 200 200 302 302 302",
    "GET incidents:incident_export": "302 200 200 200 200 302 302 302",
    "GET incidents:incident_create": "302 200 200 200 200 302 302 302",
    "POST incidents:preview": "302 200 200 200 200 302 302 302",
    "GET incidents:similar": "302 200 200 200 200 302 302 302",
    "GET incidents:incident_detail": "302 200 200 200 200 302 302 302",
    "GET incidents:incident_detail [confidential]": "302 200 200 404 200 302 302 302",
    "GET incidents:incident_edit": "302 200 200 403 200 302 302 302",
    "GET incidents:incident_edit [confidential]": "302 403 200 404 200 302 302 302",
    "POST incidents:incident_status": "302 302 302 403 302 302 302 302",
    "POST incidents:incident_status [confidential]": "302 403 302 404 302 302 302 302",
    "POST incidents:timeline_add": "302 400 400 403 400 302 302 302",
    "POST incidents:timeline_add [confidential]": "302 403 400 404 400 302 302 302",
    # Editing or deleting a timeline entry (its key names it; an empty POST is a form error that deletes nothing).
    "GET incidents:timeline_edit": "302 200 200 403 200 302 302 302",
    "GET incidents:timeline_edit [confidential]": "302 403 200 404 200 302 302 302",
    "POST incidents:timeline_delete": "302 400 400 403 400 302 302 302",
    "POST incidents:timeline_delete [confidential]": "302 403 400 404 400 302 302 302",
    "POST incidents:action_item_add": "302 400 400 403 400 302 302 302",
    "POST incidents:action_item_add [confidential]": "302 403 400 404 400 302 302 302",
    "GET incidents:incident_history": "302 200 200 200 200 302 302 302",
    "GET incidents:incident_history [confidential]": "302 200 200 404 200 302 302 302",
    "GET incidents:revision_diff": "302 200 200 200 200 302 302 302",
    "GET incidents:revision_diff [confidential]": "302 200 200 404 200 302 302 302",
    "POST incidents:triage_act": "302 302 302 403 302 302 302 302",
    "POST incidents:triage_act [confidential]": "302 403 302 404 302 302 302 302",
    "GET incidents:near_miss_create": "302 200 200 200 200 302 302 302",
    "GET incidents:near_miss_filed": "302 200 200 200 200 302 302 302",
    "GET incidents:near_miss_filed [confidential]": "302 200 200 404 200 302 302 302",
    # The receipt code is the credential: it answers without signing in (a token on a web page is signed out).
    "GET incidents:receipt": "200 200 200 200 200 200 200 200",
    "GET incidents:triage_inbox": "302 200 200 200 200 302 302 302",
    "POST incidents:triage_bulk": "302 400 400 400 400 302 302 302",  # an empty form: nothing ticked
    "GET incidents:action_item_edit": "302 200 200 403 200 302 302 302",
    "GET incidents:action_item_list": "302 200 200 200 200 302 302 302",
    "POST incidents:action_item_complete": "302 302 302 403 302 302 302 302",
    "GET incidents:release_list": "302 200 200 200 200 302 302 302",
    "GET incidents:release_versions": "302 200 200 200 200 302 302 302",
    "GET incidents:release_detail": "302 200 200 200 200 302 302 302",
    "GET incidents:environment_list": "302 200 200 200 200 302 302 302",
    "GET incidents:environment_detail": "302 200 200 200 200 302 302 302",
    # A team's API tokens: its leads and admins; the matrix's empty form is a 400, the revoke a redirect.
    "GET incidents:token_list": "302 403 200 403 200 302 302 302",
    # The Slack app (docs/slack.md): off without its settings; when on, only Slack's signed posts are taken.
    "GET slack:commands": "404 404 404 404 404 404 404 404",
    "GET slack:interactions": "404 404 404 404 404 404 404 404",
    "POST incidents:token_revoke": "302 403 302 403 302 302 302 302",
    # A team's chat channels (docs/chat.md): its leads and admins on the page; through the API its write token
    # (a lead or admin session may read it, masked); the matrix's empty PUT is a 400 naming `url`.
    "GET incidents:chat_settings": "302 403 200 403 200 302 302 302",
    "GET api:team-chat": "401 403 200 403 200 403 200 403",
    "PUT api:team-chat": "401 403 403 403 403 403 400 403",
    # A team's outbound webhooks (docs/outbound-webhooks.md): its leads and admins, on the page only (tokens are
    # signed out there); the matrix's empty action form is a 400.
    "GET incidents:webhook_list": "302 403 200 403 200 302 302 302",
    "POST incidents:webhook_act": "302 403 400 403 400 302 302 302",
}

# Every model page of the admin: superusers only; everyone else is sent to the admin's login page. The admin's
# answer per page kind (changelist, add, history, delete, change, and the bare object URL that redirects to
# its change page), with the exceptions that the admin classes make on purpose.
ADMIN_PAGES = {"changelist": 200, "add": 200, "history": 200, "delete": 200, "change": 200, "": 302}
ADMIN_MODELS = {
    "auth.group": {}, "auth.user": {}, "incidents.team": {}, "incidents.membership": {}, "incidents.service": {},
    "incidents.environment": {}, "incidents.release": {}, "incidents.deployment": {},
    "incidents.cause": {"delete": 403},  # a cause in use is never deleted, only retired
    "incidents.incident": {"add": 403},  # incidents are filed through the app, which numbers them
    "incidents.incidentcause": {}, "incidents.timelineentry": {}, "incidents.actionitem": {},
    "incidents.confidentialreporter": {"add": 403}, "incidents.trendreport": {},
    "incidents.digestsubscription": {}, "incidents.digestdelivery": {"add": 403}, "incidents.apitoken": {},
    "incidents.hook": {}, "incidents.idempotencyrecord": {"add": 403},
    "incidents.hookdelivery": {"add": 403},  # deliveries are recorded by the receivers
    "incidents.incidentrevision": {"add": 403}, "incidents.auditentry": {"add": 403, "delete": 403},
    "incidents.outboxmessage": {"add": 403},  # follow-up work is enqueued by the writes that need it
    "incidents.chatwebhook": {"add": 403},  # set by the team's leads in the app; the admin shows them masked
    "incidents.webhooksubscription": {},
    "incidents.webhookdelivery": {"add": 403},  # deliveries are made by the events; the log is read-only
    # Login lockouts (django-axes): attempts are recorded by the login, never added by hand.
    "axes.accessattempt": {"add": 403}, "axes.accesslog": {"add": 403}, "axes.accessfailurelog": {"add": 403},
}  # fmt: skip
ADMIN_MODEL_ROUTE = re.compile(r"admin/(auth|incidents|axes)/(\w+)/.*")


def expected(key: str, route) -> str | None:
    """The eight statuses expected for `key`, or None when the route has no expectation (a new route)."""
    if key in EXPECTED:
        return EXPECTED[key]
    match = ADMIN_MODEL_ROUTE.fullmatch(route.pattern)
    model = f"{match.group(1)}.{match.group(2)}" if match else None
    if model not in ADMIN_MODELS or key != f"GET {route_id(route)}":
        return None
    page = route.name.rsplit("_", 1)[1] if route.name else ""
    admin = ADMIN_MODELS[model].get(page, ADMIN_PAGES[page])
    return f"302 302 302 302 {admin} 302 302 302"


@pytest.mark.reliability  # about 1,600 requests: run by the reliability step, not by every `make test`
def test_every_route_answers_every_persona_as_expected(world, reader, writer, other_writer, settings):
    settings.API_WRITE_THROTTLE_RATE = "100000/min"
    answers = matrix(world, {"read_token": reader, "write_token": writer, "other_token": other_writer})
    routes = {route_id(route): route for route in all_routes()}
    missing, wrong = [], []
    for key, got in answers.items():
        route = routes[key.split(" ", 1)[1].removesuffix(" [confidential]")]
        want = expected(key, route)
        if want is None:
            missing.append(key)
        elif got != want:
            wrong.append(f"{key}: expected {want}, got {got}")
    assert missing == [], "routes without an expected status; add them to EXPECTED"
    assert wrong == [], "\n".join(wrong)
    assert set(EXPECTED) <= set(answers), "expectations for routes that no longer exist"
    assert all(not status.startswith("5") for got in answers.values() for status in got.split())


# --- Every door answers as the table of docs/authorization.md says ------------------------------------------
# Each action is done for real, on a fresh object, by each persona: people through the web app, tokens through
# the API (web pages ignore tokens), the signed-out through both. The answer is classified as the table's cells:
# a login redirect or 401 is "no" for the signed-out, 403 "no", 404 "hidden", a success "yes".

TABLE = policy_table()
PEOPLE = ("anonymous", "reporter", "lead", "outsider", "admin")


def outcome(response) -> str:
    if response.status_code == 302 and "/login/" in response["Location"]:
        return "no"
    return {401: "no", 403: "no", 404: "hidden"}.get(response.status_code) or (
        "yes" if response.status_code < 400 else f"unexpected {response.status_code}"
    )


def _fresh(team, **fields) -> Incident:
    return IncidentFactory(team=team, **fields)


def _confidential_by(user, team, prod) -> Incident:
    from incidents.services import near_miss_report

    return near_miss_report(
        reporter=user, team=team, title="Key nearly leaked", summary="Scanner caught it.", environment=prod,
        caught_by=Incident.CaughtBy.AUTOMATED_CHECK, confidential=True,
    ).incident  # fmt: skip


def _timeline(client, incident) -> object:
    return client.post(
        f"/incidents/{incident.reference}/timeline/", {"timeline-at": "2026-01-05T10:00", "timeline-text": "Paged"}
    )


def _patch(client, incident, body) -> object:
    return client.patch(f"/api/v1/incidents/{incident.reference}/", {**body, "version": incident.version},
                        format="json")  # fmt: skip


def door_actions(world: World, team, prod) -> dict[str, tuple]:
    """action → (make a fresh object, its web door, its API door)."""
    return {
        "view an item": (
            lambda: _fresh(team),
            lambda c, o: c.get(f"/incidents/{o.reference}/"),
            lambda c, o: c.get(f"/api/v1/incidents/{o.reference}/"),
        ),
        "view a confidential near-miss": (
            lambda: _confidential_by(world.users["lead"], team, prod),
            lambda c, o: c.get(f"/incidents/{o.reference}/"),
            lambda c, o: c.get(f"/api/v1/incidents/{o.reference}/"),
        ),
        "view the confidential near-miss one filed": (
            lambda: _confidential_by(world.users["reporter"], team, prod),
            lambda c, o: c.get(f"/incidents/{o.reference}/"),
            lambda c, o: c.get(f"/api/v1/incidents/{o.reference}/"),
        ),
        "edit an item (fields, status, timeline, action items)": (
            lambda: _fresh(team, status=Incident.Status.DRAFT),
            _timeline,
            lambda c, o: _patch(c, o, {"title": "Renamed"}),
        ),
        "edit a confidential near-miss": (
            lambda: _confidential_by(world.users["lead"], team, prod),
            _timeline,
            lambda c, o: _patch(c, o, {"title": "Renamed"}),
        ),
        "edit the confidential near-miss one filed": (
            lambda: _confidential_by(world.users["reporter"], team, prod),
            _timeline,
            lambda c, o: _patch(c, o, {"title": "Renamed"}),
        ),
        "publish an item (move it to published)": (
            lambda: _fresh(team, status=Incident.Status.IN_REVIEW),
            lambda c, o: c.post(
                f"/incidents/{o.reference}/status/", {"status": "published", "expected_version": o.version}
            ),
            lambda c, o: _patch(c, o, {"status": "published"}),
        ),
        "triage an item (promote or dismiss)": (
            lambda: _fresh(team, status=Incident.Status.TRIAGE),
            lambda c, o: c.post(
                f"/incidents/{o.reference}/triage/", {"action": "dismiss", "expected_version": o.version}
            ),
            lambda c, o: _patch(c, o, {"status": "dismissed"}),
        ),
        "complete an action item": (
            lambda: ActionItemFactory(incident=_fresh(team)),
            lambda c, o: c.post(f"/action-items/{o.pk}/complete/", {"status": "done"}),
            lambda c, o: c.patch(f"/api/v1/action-items/{o.pk}/", {"status": "done"}, format="json"),
        ),
        "manage the team's chat channels (Slack and Teams webhooks)": (
            lambda: team,
            lambda c, o: c.post(f"/teams/{o.slug}/chat/", {"kind": "slack", "action": "set", "url": CHAT_URL}),
            lambda c, o: c.put(f"/api/v1/teams/{o.slug}/chat/slack/", {"url": CHAT_URL}, format="json"),
        ),
        # Outbound webhooks have one door, the team's page, which takes no token: a token there is signed out.
        "manage the team's outbound webhooks (subscriptions to its events)": (
            lambda: WebhookSubscription.objects.create(
                name="Pipeline", team=team, url="https://pipeline.example/"
            ),
            lambda c, o: c.post(f"/teams/{o.team.slug}/webhooks/{o.pk}/", {"action": "disable"}),
            lambda c, o: c.post(f"/teams/{o.team.slug}/webhooks/{o.pk}/", {"action": "disable"}),
        ),
    }


CHAT_URL = "https://hooks.slack.com/services/T0000000/B0000000/FAKEfakeFAKEfake0000"


def test_every_door_answers_each_persona_as_the_table_says(
    world, reader, writer, other_writer, team, prod, settings
):
    settings.API_WRITE_THROTTLE_RATE = "100000/min"
    tools = {"read_token": reader, "write_token": writer, "other_token": other_writer}
    wrong = []
    for action, (make, web, api) in door_actions(world, team, prod).items():
        for persona, want in TABLE[action].items():
            if want == "—":
                continue
            doors = [("web", web)] if persona in PEOPLE else []
            doors += [("api", api)] if persona not in PEOPLE or persona == "anonymous" else []
            for name, door in doors:
                client = client_for(persona, world, tools, api=name == "api")
                client.raise_request_exception = False
                got = outcome(door(client, make()))
                if got != want:
                    wrong.append(f"{action} / {persona} through the {name}: expected {want}, got {got}")
    assert wrong == [], "\n".join(wrong)


def test_the_table_covers_every_door_action():
    rows_with_doors = {
        "view an item", "view a confidential near-miss", "view the confidential near-miss one filed",
        "edit an item (fields, status, timeline, action items)", "edit a confidential near-miss",
        "edit the confidential near-miss one filed", "publish an item (move it to published)",
        "triage an item (promote or dismiss)", "complete an action item",
    }  # fmt: skip
    assert rows_with_doors <= set(TABLE), "docs/authorization.md lost a row the doors are checked against"


# --- Mass assignment: fields that Hindsight sets are never taken from a request -------------------------

PROTECTED = {
    "reporter": "otto", "number": 999, "reference": "INC-999", "version": 42, "team": "platform",
    "created_at": "2001-01-01T00:00:00Z", "updated_at": "2001-01-01T00:00:00Z", "body_html": "<b>forged</b>",
    "confidential_reporter": "otto", "receipt_hash": "0" * 64, "id": 999999,
}  # fmt: skip


def _recent(moment: dt.datetime) -> bool:
    return abs(timezone.now() - moment) < dt.timedelta(minutes=5)


def test_api_create_ignores_protected_fields(writer, team, outsider):
    response = writer.post("/api/v1/incidents/", {"kind": "incident", "title": "Checkout 502s", **PROTECTED})
    assert response.status_code == 201, response.content
    incident = Incident.objects.get()
    assert (incident.team, incident.reporter, incident.number, incident.version) == (team, None, 1, 1)
    assert _recent(incident.created_at) and _recent(incident.updated_at)
    assert "forged" not in incident.body_html and incident.pk != PROTECTED["id"]
    assert response.json()["reference"] == "INC-1"


def test_api_update_ignores_protected_fields(writer, team, reporter):
    incident = IncidentFactory(team=team, reporter=reporter, status=Incident.Status.DRAFT)
    before = (incident.team_id, incident.reporter_id, incident.number, incident.created_at, incident.kind)
    forged = {**PROTECTED, "version": incident.version, "kind": "near_miss", "source": "forged",
              "external_id": "X-1", "confidential": True}  # fmt: skip
    response = writer.patch(f"/api/v1/incidents/{incident.reference}/", {**forged, "title": "Renamed"})
    assert response.status_code == 200, response.content
    incident.refresh_from_db()
    assert (incident.title, incident.version) == ("Renamed", 2)
    after = (incident.team_id, incident.reporter_id, incident.number, incident.created_at, incident.kind)
    assert after == before
    assert (incident.source, incident.external_id, incident.confidential) == ("web", "", False)


def test_api_action_item_update_ignores_its_incident_and_times(writer, team):
    incident, other = IncidentFactory(team=team), IncidentFactory(team=team)
    item = ActionItemFactory(incident=incident)
    response = writer.patch(
        f"/api/v1/action-items/{item.pk}/",
        {"incident": other.reference, "completed_at": "2001-01-01T00:00:00Z", "created_at": "2001-01-01T00:00:00Z",
         "title": "Add a contract test"},
    )  # fmt: skip
    assert response.status_code == 200, response.content
    item.refresh_from_db()
    assert (item.incident, item.completed_at, item.title) == (incident, None, "Add a contract test")
    assert _recent(item.created_at)


def _form(**extra) -> dict:
    return {"title": "Card payments failed", "severity": "sev2", "environment": Environment.objects.get(slug="prod").pk,
            "caught_by": "monitoring_alert", "started_at": "2026-01-05T10:00", "summary": "Declines.",
            "body": "## Summary", **extra}  # fmt: skip


def test_web_create_and_edit_ignore_protected_fields(client, reporter, outsider, team, other_team):
    client.force_login(reporter)
    forged = {"reporter": outsider.pk, "number": 999, "version": 42, "kind": "near_miss", "confidential": "on",
              "created_at": "2001-01-01T00:00", "body_html": "<b>forged</b>", "source": "forged"}  # fmt: skip
    refused = client.post("/incidents/new/", _form(team=other_team.pk, **forged))
    assert refused.status_code == 400 and "team" in refused.context["form"].errors
    assert not Incident.objects.exists()
    assert client.post("/incidents/new/", _form(team=team.pk, **forged)).status_code == 302
    incident = Incident.objects.get()
    assert (incident.reporter, incident.number, incident.version, incident.kind) == (reporter, 1, 1, "incident")
    assert (incident.confidential, incident.source, incident.team) == (False, "web", team)
    assert _recent(incident.created_at) and "forged" not in incident.body_html
    saved = client.post(f"/incidents/{incident.reference}/edit/",
                        _form(expected_version=1, team=other_team.pk, title="Renamed", **forged))  # fmt: skip
    assert saved.status_code == 302
    incident.refresh_from_db()
    assert (incident.title, incident.team, incident.reporter, incident.number) == ("Renamed", team, reporter, 1)
    assert (incident.version, incident.kind, incident.confidential) == (2, "incident", False)


def test_near_miss_form_keeps_the_confidential_reporter_who_filed_it(client, reporter, outsider, team):
    client.force_login(reporter)
    response = client.post("/near-misses/new/", {
        "title": "Token nearly pushed", "summary": "A hook stopped it.", "environment": Environment.objects.get(
            slug="staging").pk, "caught_by": "automated_check", "team": team.pk, "confidential": "on",
        "reporter": outsider.pk, "confidential_reporter": outsider.pk, "number": 999, "version": 42,
    })  # fmt: skip
    assert response.status_code == 302, response.content[:400]
    incident = Incident.objects.get()
    held = ConfidentialReporter.objects.get(incident=incident)
    assert (incident.reporter, held.user, incident.number, incident.version) == (None, reporter, 1, 1)
