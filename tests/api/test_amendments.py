"""An edit of a published postmortem through the API is an amendment, as it is on the web."""

from __future__ import annotations

import pytest

from incidents.models import Incident, IncidentRevision, OutboxMessage
from tests.web.test_publishing import complete

pytestmark = pytest.mark.django_db


def test_an_api_edit_of_a_published_postmortem_is_an_amendment_too(writer, team):
    published = complete(team, status=Incident.Status.PUBLISHED)
    response = writer.patch(
        f"/api/v1/incidents/{published.reference}/", {"version": published.version, "summary": "Corrected."}
    )
    assert response.status_code == 200
    assert OutboxMessage.objects.filter(handler="postmortem_amended").count() == 1
    assert published.revisions.order_by("-version").first().note == IncidentRevision.AMENDMENT_NOTE
    status_only = writer.patch(f"/api/v1/incidents/{published.reference}/", {"version": 2, "status": "in_review"})
    assert status_only.status_code == 200  # reopening for review changes no text: not an amendment
    assert OutboxMessage.objects.filter(handler="postmortem_amended").count() == 1
