"""Malformed and out-of-range input anywhere gets a 4xx or a form error, never a server error."""

from __future__ import annotations

import pytest

from incidents.models import Incident
from tests.factories import ActionItemFactory, IncidentFactory

pytestmark = pytest.mark.django_db
HUGE = "9" * 25


@pytest.fixture
def triage_item(team):
    return IncidentFactory(team=team, status="triage")


def requests_for(ref: str) -> list[tuple[str, str, dict]]:
    return [
        ("get", "/incidents/similar/", {"causes": [HUGE, "x"], "services": HUGE, "exclude": "INC-" + HUGE}),
        ("get", "/incidents/", {"release": HUGE, "cause": HUGE, "service": "x", "team": HUGE, "page": HUGE}),
        ("get", "/incidents/", {"q": "a" * 5000, "ordering": "drop table", "severity": ["sev1", "nope"]}),
        ("post", "/near-misses/new/", {"title": "x" * 500, "environment": HUGE, "causes": [HUGE], "team": HUGE}),
        ("post", "/incidents/preview/", {"body": "x", "team": "abc"}),
        ("post", "/incidents/preview/", {"body": "x" * 200_001, "team": HUGE}),
        ("post", f"/incidents/{ref}/triage/", {"action": "dismiss", "expected_version": HUGE}),
        ("post", f"/incidents/{ref}/status/", {"status": "draft", "expected_version": "-1"}),
        ("post", f"/incidents/{ref}/edit/", {"expected_version": HUGE, "services": [HUGE], "started_at": "x"}),
        ("get", f"/releases/{HUGE}/", {}),
        ("get", f"/incidents/{ref}/history/{HUGE}/", {}),
        ("post", f"/action-items/{HUGE}/complete/", {"status": "done"}),
        ("post", f"/incidents/{ref}/action-items/", {"action-owner": HUGE, "action-due_date": "31/31/31"}),
        ("post", f"/incidents/{ref}/timeline/", {"timeline-at": "99999-01-01T00:00", "timeline-text": ""}),
        ("post", "/incidents/new/", {"title": "x", "team": HUGE, "environment": HUGE, "services": [HUGE]}),
        ("get", "/incidents/INC-" + HUGE + "/", {}),
        ("get", "/receipts/" + "x" * 500 + "/", {}),
    ]


def test_no_request_makes_a_server_error(login, reporter, triage_item):
    item = ActionItemFactory(incident=triage_item)
    client = login(reporter)
    client.raise_request_exception = False
    failures = []
    for method, url, data in requests_for(triage_item.reference):
        status = getattr(client, method)(url, data).status_code
        if not 200 <= status < 500:
            failures.append((method, url, status))
    assert failures == []
    triage_item.refresh_from_db()
    item.refresh_from_db()
    assert triage_item.status == Incident.Status.TRIAGE and triage_item.version == 1  # nothing changed
    assert item.status == "open"
