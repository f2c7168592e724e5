"""Example bodies for the OpenAPI schema (shown in /api/docs/ and sent by the schema checks in R3).

Request examples name what the demo organisation (`python manage.py seed_demo`) holds: the payments team's
service checkout-api, the environments dev, staging and prod, the taxonomy's causes, the user demo. Each one is
valid against its operation's schema; with the demo data it is accepted, or refused with a documented status (an
incident reference of another team is a 400 naming `incident`, a stale version a 409).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample

HOST = "https://hindsight.example.com"


def request(name: str, value: dict, description: str = "") -> OpenApiExample:
    return OpenApiExample(name, value=value, description=description, request_only=True)


def response(name: str, value: object, *, status_codes: tuple[str, ...] = ("200",)) -> OpenApiExample:
    return OpenApiExample(name, value=value, response_only=True, status_codes=list(status_codes))


# --- Reference data --------------------------------------------------------------------------------------

TEAM = {"slug": "payments", "name": "Payments"}
SERVICE = {
    "slug": "checkout-api",
    "name": "Checkout API",
    "owner_team": "payments",
    "description": "Turns a basket into a paid order: prices, fraud score, payment authorisation.",
}
ENVIRONMENT = {
    "slug": "prod",
    "name": "Production",
    "kind": "production",
    "promotion_order": 30,
    "mandate": "Boring, measurable, defended. What reaches production has passed every gate; whatever is caught "
    "here escaped the others.",
}
CAUSE = {
    "slug": "missing-check",
    "name": "Missing check",
    "description": "No automated test, lint or gate would have caught this change.",
    "category": "checks",
    "active": True,
}

# --- Incidents -------------------------------------------------------------------------------------------

TITLE = "Checkout latency doubled after 4.12 rollout"
SUMMARY = (
    "p95 latency of checkout-api went from 420 ms to 910 ms within ten minutes of the 4.12.0 rollout to prod; "
    "about 3% of checkouts timed out until the rollback."
)
INCIDENT_CREATE = {
    "kind": "incident",
    "title": TITLE,
    "summary": SUMMARY,
    "trigger": "Rollout of checkout-api 4.12.0, which calls the fraud-score service on every basket change.",
    "severity": "sev2",
    "environment": "prod",
    "caught_by": "monitoring_alert",
    "services": ["checkout-api"],
    "causes": [{"cause": "missing-check", "note": "No load test covers the fraud-score call.", "gate": "staging"}],
    "started_at": "2026-11-24T09:12:00Z",
    "detected_at": "2026-11-24T09:19:00Z",
    "mitigated_at": "2026-11-24T09:41:00Z",
    "timeline": [
        {"at": "2026-11-24T09:19:00Z", "text": "CheckoutLatencyHigh fired; on-call acknowledged."},
        {"at": "2026-11-24T09:41:00Z", "text": "Rolled checkout-api back to 4.11.3; p95 back to 430 ms."},
    ],
    "source": "incident-bot",
    "external_id": "PD-Q3X8Y2",
}
NEAR_MISS_CREATE = {
    "kind": "near_miss",
    "title": "Staging migration would have locked the orders table",
    "summary": "The 0047 migration took an ACCESS EXCLUSIVE lock on orders for 40 s in staging; caught in review.",
    "potential_impact": "Checkout would have failed for every customer for about a minute in prod.",
    "severity": "sev3",
    "environment": "staging",
    "caught_by": "code_review",
    "services": ["checkout-api"],
    "status": "draft",
}
INCIDENT_UPDATE = {
    "status": "draft",
    "resolved_at": "2026-11-24T10:05:00Z",
    "body": "## What happened\n\nThe fraud-score call added 480 ms to every basket change.",
    "version": 1,
}
INCIDENT_REFERENCE = "INC-42"
INCIDENT_URL = f"{HOST}/api/v1/incidents/{INCIDENT_REFERENCE}/"
INCIDENT_LISTED = {
    "reference": INCIDENT_REFERENCE,
    "kind": "incident",
    "number": 42,
    "title": TITLE,
    "summary": SUMMARY,
    "potential_impact": "",
    "trigger": INCIDENT_CREATE["trigger"],
    "severity": "sev2",
    "status": "triage",
    "team": "payments",
    "environment": "prod",
    "caught_by": "monitoring_alert",
    "services": ["checkout-api"],
    "releases": [{"service": "checkout-api", "version": "4.12.0"}],
    "causes": INCIDENT_CREATE["causes"],
    "started_at": "2026-11-24T09:12:00Z",
    "detected_at": "2026-11-24T09:19:00Z",
    "mitigated_at": "2026-11-24T09:41:00Z",
    "resolved_at": None,
    "body": "",
    "body_html": "",
    "reporter": None,
    "confidential": False,
    "source": "incident-bot",
    "external_id": "PD-Q3X8Y2",
    "version": 1,
    "created_at": "2026-11-24T09:20:04Z",
    "updated_at": "2026-11-24T09:20:04Z",
    "url": INCIDENT_URL,
}
ACTION_ITEM_ID = 4815162342
INCIDENT_DETAIL: dict[str, Any] = {
    **INCIDENT_LISTED,
    "timeline": INCIDENT_CREATE["timeline"],
    "action_items": [
        {
            "id": ACTION_ITEM_ID,
            "title": "Load-test the fraud-score call in staging before each release",
            "owner": "demo",
            "team": "payments",
            "due_date": "2026-12-15",
            "status": "open",
            "cause": "missing-check",
            "ticket_url": "https://tracker.example.com/PAY-482",
            "completed_at": None,
        }
    ],
    "suspect_releases": [
        {
            "id": 1207,
            "service": "checkout-api",
            "version": "4.12.0",
            "commit_sha": "9f2c4e1a7b3d5c6e8f0a1b2c3d4e5f6a7b8c9d0e",
            "artifact_digest": "sha256:3b1f0c9e5a7d2b4c6e8f0a1b3c5d7e9f1a3b5c7d9e1f3a5b7c9d1e3f5a7b9c1d",
            "last_deployed_at": "2026-11-24T09:02:00Z",
        }
    ],
    "redacted": {},
}

INCIDENT_UPDATED = {
    **INCIDENT_DETAIL,
    **{key: value for key, value in INCIDENT_UPDATE.items() if key != "version"},
    "body_html": "<h2>What happened</h2>\n<p>The fraud-score call added 480 ms to every basket change.</p>",
    "version": 2,
    "updated_at": "2026-11-24T10:12:31Z",
}

# --- Action items ----------------------------------------------------------------------------------------

ACTION_ITEM_CREATE = {
    "incident": "INC-1",
    "title": "Load-test the fraud-score call in staging before each release",
    "owner": "demo",
    "team": "payments",
    "due_date": "2026-12-15",
    "cause": "missing-check",
    "ticket_url": "https://tracker.example.com/PAY-482",
}
ACTION_ITEM_UPDATE = {"due_date": "2027-01-15", "ticket_url": "https://tracker.example.com/PAY-482"}
ACTION_ITEM_CLOSE = {"status": "done"}
ACTION_ITEM = {
    "id": ACTION_ITEM_ID,
    "incident": INCIDENT_REFERENCE,
    **{key: value for key, value in INCIDENT_DETAIL["action_items"][0].items() if key != "id"},
    "created_at": "2026-11-25T14:30:00Z",
    "redacted": {},
}

# --- Releases and deployments ----------------------------------------------------------------------------

COMMIT = "9f2c4e1a7b3d5c6e8f0a1b2c3d4e5f6a7b8c9d0e"
DIGEST = "sha256:3b1f0c9e5a7d2b4c6e8f0a1b3c5d7e9f1a3b5c7d9e1f3a5b7c9d1e3f5a7b9c1d"
RELEASE_CREATE = {
    "service": "checkout-api",
    "version": "4.12.0",
    "artifact_digest": DIGEST,
    "commit_sha": COMMIT,
    "url": "https://git.example.com/payments/checkout-api/releases/tag/v4.12.0",
}
DEPLOYMENT_CREATE = {
    "service": "checkout-api",
    "version": "4.12.0",
    "environment": "staging",
    "status": "succeeded",
    "deployed_at": "2026-11-24T08:31:00Z",
    "gates": {"unit-tests": "passed", "integration-tests": "passed", "security-scan": "passed"},
    "rollback_rehearsed": True,
    "artifact_digest": DIGEST,
    "commit": COMMIT,
    "url": "https://git.example.com/payments/checkout-api/releases/tag/v4.12.0",
    "external_id": "pipeline-88123-staging",
}
DEPLOYMENT = {
    "id": 5310,
    "service": "checkout-api",
    "version": "4.12.0",
    "release": 1207,
    "environment": "staging",
    "status": "succeeded",
    "deployed_at": "2026-11-24T08:31:00Z",
    "gates": DEPLOYMENT_CREATE["gates"],
    "rollback_rehearsed": True,
    "external_id": "pipeline-88123-staging",
    "created_at": "2026-11-24T08:31:02Z",
}
RELEASE = {
    "id": 1207,
    "service": "checkout-api",
    "version": "4.12.0",
    "artifact_digest": DIGEST,
    "commit_sha": COMMIT,
    "url": RELEASE_CREATE["url"],
    "created_at": "2026-11-24T08:12:40Z",
    "deployments": [
        {key: DEPLOYMENT[key] for key in ("id", "environment", "status", "deployed_at", "gates")}
        | {"rollback_rehearsed": True},
        {
            "id": 5318,
            "environment": "prod",
            "status": "succeeded",
            "deployed_at": "2026-11-24T09:02:00Z",
            "gates": {"canary": "passed"},
            "rollback_rehearsed": False,
        },
    ],
}

# --- Reports ---------------------------------------------------------------------------------------------

REPORT = {
    "week": "2026-W47",
    "scope": "organisation",
    "audience": "everyone",
    "status": "ready",
    "generated_at": "2026-11-23T06:00:12Z",
    "url": f"{HOST}/api/v1/reports/2026-W47/",
}

# --- Webhooks --------------------------------------------------------------------------------------------

ALERTMANAGER: dict[str, Any] = {
    "version": "4",
    "status": "firing",
    "receiver": "hindsight",
    "externalURL": "https://alertmanager.example.com",
    "alerts": [
        {
            "status": "firing",
            "labels": {
                "alertname": "CheckoutLatencyHigh",
                "service": "checkout-api",
                "env": "prod",
                "severity": "critical",
            },
            "annotations": {
                "summary": "Checkout latency doubled after 4.12 rollout",
                "description": "p95 of checkout-api is 910 ms (threshold 600 ms) for 5 minutes.",
            },
            "startsAt": "2026-11-24T09:14:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "https://prometheus.example.com/graph?g0.expr=checkout_p95_seconds%3E0.6",
            "fingerprint": "a41c7f3e9b2d5c80",
        }
    ],
}
ALERTMANAGER_RESOLVED = {
    **ALERTMANAGER,
    "status": "resolved",
    "alerts": [{**ALERTMANAGER["alerts"][0], "status": "resolved", "endsAt": "2026-11-24T09:44:00Z"}],
}
ALERT_OUTCOME = {
    "created": ["NM-57"],
    "resolved": [],
    "unchanged": [],
    "errors": [],
    "warnings": [],
    "redacted": {},
}
ALERT_OUTCOME_RESOLVED = {**ALERT_OUTCOME, "created": [], "resolved": ["NM-57"]}
GITHUB_DEPLOYMENT_STATUS = {
    "deployment": {
        "id": 1873409526,
        "sha": COMMIT,
        "ref": "v4.12.0",
        "environment": "prod",
        "created_at": "2026-11-24T08:58:10Z",
    },
    "deployment_status": {"state": "success", "environment": "prod", "created_at": "2026-11-24T09:02:00Z"},
    "repository": {
        "name": "checkout-api",
        "full_name": "example-shop/checkout-api",
        "html_url": "https://github.com/example-shop/checkout-api",
    },
}
GITHUB_OUTCOME = {"detail": "Deployment recorded.", "release": 1207, "deployment": 5318}
GITHUB_IGNORED = {"detail": "Event 'push' ignored.", "release": None, "deployment": None}

# --- Chat channels ------------------------------------------------------------------------------------------
# An obviously fake Slack webhook URL: the real ones are secrets.

CHAT_WEBHOOK_SET = {"url": "https://hooks.slack.com/services/T0000000/B0000000/EXAMPLEexampleEXAMPLE0000"}
CHAT_WEBHOOK = {
    "kind": "slack",
    "url_masked": "hooks.slack.com/…0000",
    "active": True,
    "disabled_at": None,
    "disabled_reason": "",
    "consecutive_failures": 0,
    "last_success_at": "2026-11-30T07:02:11Z",
    "last_failure_at": None,
    "last_error": "",
    "created_at": "2026-11-02T10:15:00Z",
}

# --- Receivers of alerting tools (incidents/api/receivers/) ----------------------------------------------------
PAGERDUTY_TRIGGERED = {
    "event": {
        "id": "01DEN4LXZPOKHQ8CM4NCMEKNZN",
        "event_type": "incident.triggered",
        "resource_type": "incident",
        "occurred_at": "2026-11-24T09:19:03.169Z",
        "agent": None,
        "client": None,
        "data": {
            "id": "Q3X8Y2ZB0K1CDE",
            "type": "incident",
            "self": "https://api.pagerduty.com/incidents/Q3X8Y2ZB0K1CDE",
            "html_url": "https://example-shop.pagerduty.com/incidents/Q3X8Y2ZB0K1CDE",
            "number": 4711,
            "status": "triggered",
            "incident_key": "checkout-latency",
            "created_at": "2026-11-24T09:19:02Z",
            "title": "Checkout p95 latency above 2 s",
            "service": {"id": "PF9KMXH", "summary": "checkout-api", "type": "service_reference"},
            "priority": {"id": "PSO75BM", "summary": "P2", "type": "priority_reference"},
            "urgency": "high",
        },
    }
}
HOOK_OUTCOME = {**ALERT_OUTCOME, "created": ["INC-58"]}
HOOK_IGNORED = {**ALERT_OUTCOME, "created": [], "detail": "Event 'incident.annotated' ignored."}

# --- Opsgenie (incidents/api/receivers/opsgenie.py) ---------------------------------------------------------
OPSGENIE_CREATE: dict[str, Any] = {
    "action": "Create",
    "alert": {
        "alertId": "3c5b9c7e-1f2a-4d8e-9b6a-0e7d4c2f1a90-1795511940000",
        "message": "Checkout p95 latency above 2 s",
        "tags": ["env:prod", "service:checkout-api", "latency"],
        "tinyId": "1842",
        "entity": "checkout-api",
        "alias": "checkout-latency",
        "createdAt": 1795511940000,
        "updatedAt": 1795511940000000000,
        "username": "System",
        "userId": "",
        "description": "p95 of checkout-api is 2.4 s (threshold 2 s) for 5 minutes.",
        "priority": "P2",
        "source": "prometheus",
        "details": {"region": "eu-west-1", "runbook": "https://runbooks.example.com/checkout-latency"},
    },
    "source": {"name": "", "type": "API"},
    "integrationName": "Hindsight",
    "integrationId": "8418d193-2dab-4490-b331-8c02cdd196b7",
    "integrationType": "Webhook",
}
OPSGENIE_CLOSE: dict[str, Any] = {
    **OPSGENIE_CREATE,
    "action": "Close",
    "alert": {
        key: value for key, value in OPSGENIE_CREATE["alert"].items() if key not in ("description", "details")
    }
    | {"updatedAt": 1795513680000000000, "username": "demo"},
    "source": {"name": "", "type": "web"},
}
OPSGENIE_OUTCOME = {**ALERT_OUTCOME, "created": ["INC-61"]}
OPSGENIE_IGNORED = {**ALERT_OUTCOME, "created": [], "detail": "Event 'AddNote' ignored."}

# --- Grafana (incidents/api/receivers/grafana.py) -----------------------------------------------------------
GRAFANA: dict[str, Any] = {
    "receiver": "hindsight",
    "status": "firing",
    "orgId": 1,
    "alerts": [
        {
            "status": "firing",
            "labels": {
                "alertname": "Checkout error rate",
                "grafana_folder": "Payments",
                "service": "checkout-api",
                "env": "prod",
                "severity": "critical",
            },
            "annotations": {
                "summary": "5xx ratio of checkout-api above 2 %",
                "description": "The 5xx ratio of checkout-api was 4.1 % over the last 5 minutes.",
            },
            "startsAt": "2026-11-24T09:16:00.112Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "https://grafana.example.com/alerting/grafana/fe2a1c7b/view?orgId=1",
            "fingerprint": "5e1f3a7c9d2b4e60",
            "silenceURL": "https://grafana.example.com/alerting/silence/new?alertmanager=grafana&matcher=alertname%3DCheckout+error+rate",
            "dashboardURL": "https://grafana.example.com/d/checkout?orgId=1",
            "panelURL": "https://grafana.example.com/d/checkout?orgId=1&viewPanel=4",
            "values": {"A": 0.041, "C": 1},
            "valueString": "[ var='A' labels={service=checkout-api} value=0.041 ], [ var='C' labels={service=checkout-api} value=1 ]",
        }
    ],
    "groupLabels": {"alertname": "Checkout error rate"},
    "commonLabels": {"alertname": "Checkout error rate", "service": "checkout-api"},
    "commonAnnotations": {},
    "externalURL": "https://grafana.example.com/",
    "version": "1",
    "groupKey": '{}/{__grafana_autogenerated__="true"}:{alertname="Checkout error rate"}',
    "truncatedAlerts": 0,
    "title": "[FIRING:1] Checkout error rate Payments (checkout-api prod critical)",
    "state": "alerting",
    "message": "**Firing**\n\nValue: A=0.041, C=1\nLabels:\n - alertname = Checkout error rate\n",
}
GRAFANA_RESOLVED: dict[str, Any] = {
    **GRAFANA,
    "status": "resolved",
    "alerts": [{**GRAFANA["alerts"][0], "status": "resolved", "endsAt": "2026-11-24T09:41:00Z"}],
    "title": "[RESOLVED] Checkout error rate Payments (checkout-api prod critical)",
    "state": "ok",
}
GRAFANA_OUTCOME = {**ALERT_OUTCOME, "created": ["INC-62"]}
GRAFANA_TEST_IGNORED = {**ALERT_OUTCOME, "created": [], "detail": "Grafana's test notification ignored."}

# --- Sentry (incidents/api/receivers/sentry.py) -------------------------------------------------------------
SENTRY_ISSUE_CREATED: dict[str, Any] = {
    "action": "created",
    "actor": {"id": "sentry", "name": "Sentry", "type": "application"},
    "data": {
        "issue": {
            "id": "4711093826",
            "shortId": "CHECKOUT-API-3F",
            "title": "TimeoutError: payment provider did not answer within 2 s",
            "culprit": "checkout.payments in authorize",
            "level": "error",
            "status": "unresolved",
            "substatus": "new",
            "platform": "python",
            "firstSeen": "2026-11-24T09:17:41.208000Z",
            "lastSeen": "2026-11-24T09:17:41.208000Z",
            "count": "1",
            "userCount": 1,
            "project": {"id": "4505278293", "name": "checkout-api", "slug": "checkout-api", "platform": "python"},
            "web_url": "https://example-shop.sentry.io/issues/4711093826/",
            "url": "https://sentry.io/api/0/organizations/example-shop/issues/4711093826/",
            "statusDetails": {},
        }
    },
    "installation": {"uuid": "7a485448-a9e2-4c85-8a3c-4f44175783c9"},
}
SENTRY_ISSUE_RESOLVED: dict[str, Any] = {
    **SENTRY_ISSUE_CREATED,
    "action": "resolved",
    "actor": {"id": 1207, "name": "Rita Lead", "type": "user"},
    "data": {
        "resolution_type": "now",
        "issue": {**SENTRY_ISSUE_CREATED["data"]["issue"], "status": "resolved", "substatus": None},
    },
}
SENTRY_OUTCOME = {**ALERT_OUTCOME, "created": ["INC-63"]}
SENTRY_IGNORED = {**ALERT_OUTCOME, "created": [], "detail": "Event 'issue.assigned' ignored."}

# --- Datadog (incidents/api/receivers/datadog.py) -----------------------------------------------------------
# The recommended payload template (docs/receivers/datadog.md) as Datadog fills it in.
DATADOG_TRIGGERED: dict[str, Any] = {
    "id": "7734562950813226104",
    "title": "[P2] [Triggered on {service:checkout-api,env:prod}] Checkout 5xx ratio above 2 %",
    "body": "%%%\nThe 5xx ratio of checkout-api was 4.1 % over the last 5 minutes.\n%%%",
    "event_type": "query_alert_monitor",
    "date": "1795511820000",
    "last_updated": "1795511820000",
    "org": {"id": "201983", "name": "Example Shop"},
    "alert_id": "148930217",
    "alert_cycle_key": "7734562950813226104",
    "aggreg_key": "9bd4ac313a4d1e8fae2482df7b77628",
    "alert_transition": "Triggered",
    "alert_priority": "P2",
    "alert_title": "Checkout 5xx ratio above 2 % on service:checkout-api,env:prod",
    "alert_status": "sum(last_5m):sum:trace.http.request.errors{service:checkout-api} > 0.02",
    "alert_type": "error",
    "alert_metric": "trace.http.request.errors",
    "alert_scope": "service:checkout-api,env:prod",
    "hostname": "",
    "link": "https://app.datadoghq.com/event/event?id=7734562950813226104",
    "tags": "env:prod,monitor,service:checkout-api,team:payments",
}
DATADOG_RECOVERED: dict[str, Any] = {
    **DATADOG_TRIGGERED,
    "id": "7734590113520377791",
    "title": "[P2] [Recovered on {service:checkout-api,env:prod}] Checkout 5xx ratio above 2 %",
    "date": "1795513500000",
    "last_updated": "1795513500000",
    "alert_transition": "Recovered",
    "alert_type": "success",
    "link": "https://app.datadoghq.com/event/event?id=7734590113520377791",
}
DATADOG_OUTCOME = {**ALERT_OUTCOME, "created": ["INC-64"]}
DATADOG_IGNORED = {**ALERT_OUTCOME, "created": [], "detail": "Event 'notification' ignored."}
