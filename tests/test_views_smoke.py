"""The incident list and detail pages: signed-in people only, filters from the query string, 404 when hidden."""

from __future__ import annotations

import pytest
from django.urls import reverse

from incidents.models import ConfidentialReporter
from tests.factories import IncidentFactory, NearMissFactory

pytestmark = pytest.mark.django_db


def test_list_requires_login(client):
    response = client.get(reverse("incidents:incident_list"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_list_filters_through_the_query_string(client, reporter):
    incident, near_miss = IncidentFactory(title="Disk full"), NearMissFactory(title="Cert nearly expired")
    client.force_login(reporter)
    content = client.get(reverse("incidents:incident_list"), {"kind": "near_miss"}).content.decode()
    assert near_miss.title in content and incident.title not in content


def test_detail_hides_a_confidential_near_miss_from_outsiders(client, outsider, reporter, team):
    hidden = NearMissFactory(team=team, confidential=True)
    ConfidentialReporter.objects.create(incident=hidden, user=reporter, receipt_hash="r" * 64)
    url = reverse("incidents:incident_detail", args=[hidden.reference])
    client.force_login(outsider)
    assert client.get(url).status_code == 404
    client.force_login(reporter)
    assert client.get(url).status_code == 200
