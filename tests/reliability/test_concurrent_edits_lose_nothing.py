"""R8 concurrent edits: 50 parallel read-modify-write updates with version checks lose no update.

Half the writers are tools (PATCH with the version they read, 409 when it is stale), half are people saving the
web editor (the conflict page, 409, when someone saved first). Each adds its own line to the summary and tries
again after a conflict, as a client should. On PostgreSQL, where writers really run at the same time.
"""

from __future__ import annotations

import random
import time

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from incidents.models import Incident, IncidentRevision
from tests.factories import IncidentFactory
from tests.reliability.conftest import requires_postgresql, run_together

pytestmark = [
    pytest.mark.reliability,
    requires_postgresql,
    pytest.mark.django_db(transaction=True),
]

WRITERS = 50
MAX_ATTEMPTS = 200


def _back_off(attempt: int) -> None:
    """Wait a random while, longer after each conflict, as a client retrying politely does."""
    time.sleep(random.uniform(0, 0.25 * min(attempt, 8)))


def _api_writer(tool, reference: str, line: str) -> int:
    """Read, append a line, PATCH with the version read; on 409 read again. Returns the attempts made."""
    url = f"/api/v1/incidents/{reference}/"
    for attempt in range(1, MAX_ATTEMPTS + 1):
        current = tool.get(url).json()
        response = tool.patch(url, {"summary": f"{current['summary']}\n{line}", "version": current["version"]})
        if response.status_code == 200:
            return attempt
        assert response.status_code == 409, response.content
        _back_off(attempt)
    raise AssertionError(f"{line} was never saved")


def _web_writer(user, reference: str, line: str) -> int:
    """Open the editor, append a line, save; on the conflict page open it again."""
    client = Client()
    client.force_login(user)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        incident = Incident.objects.get(kind=Incident.Kind.INCIDENT, number=int(reference.split("-")[1]))
        data = {
            "expected_version": incident.version, "title": incident.title, "severity": incident.severity,
            "environment": incident.environment_id, "caught_by": incident.caught_by,
            "started_at": timezone.localtime(incident.started_at).strftime("%Y-%m-%dT%H:%M"),
            "summary": f"{incident.summary}\n{line}", "trigger": incident.trigger, "body": incident.body,
        }  # fmt: skip
        response = client.post(reverse("incidents:incident_edit", args=[reference]), data)
        if response.status_code == 302:
            return attempt
        assert response.status_code == 409, response.content[:500]
        _back_off(attempt)
    raise AssertionError(f"{line} was never saved")


def test_fifty_parallel_updates_lose_nothing(writer, reporter, team, settings):
    settings.API_WRITE_THROTTLE_RATE = "100000/min"
    incident = IncidentFactory(team=team, status=Incident.Status.DRAFT, summary="Start.", body="Body.")
    lines = [f"line {index:02d} from {'api' if index % 2 else 'web'}" for index in range(WRITERS)]

    def write(index: int) -> int:
        if index % 2:
            return _api_writer(writer, incident.reference, lines[index])
        return _web_writer(reporter, incident.reference, lines[index])

    attempts = run_together(WRITERS, write, timeout=300)
    assert [a for a in attempts if isinstance(a, BaseException)] == []
    incident.refresh_from_db()
    saved = incident.summary.splitlines()
    assert saved[0] == "Start."
    assert sorted(saved[1:]) == sorted(lines)  # every update is there, once
    assert incident.version == 1 + WRITERS  # one version per update: none overwrote another
    assert sum(attempts) > WRITERS, "the writers never collided, so nothing was proven"
    # Every save, from either door, kept a revision of its version.
    revisions = IncidentRevision.objects.filter(incident=incident)
    assert sorted(revisions.values_list("version", flat=True)) == list(range(2, 2 + WRITERS))
