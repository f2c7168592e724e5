"""What a hostile review found after the confidentiality and receiver changes: the admin's confidential
report rows and outbox messages are for superusers only, and an alert with a multi-line summary is filed."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from incidents.models import Incident, OutboxMessage, TrendReport
from incidents.services import near_miss_report
from incidents.services.reports import report_generate
from incidents.weeks import Week
from tests.api.conftest import _fresh_throttle_counts, payload, writer  # noqa: F401
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff():
    """Staff who are not superusers, with every view permission (docs/confidentiality.md: they see nothing)."""
    user = UserFactory(username="stan", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    return user


def file_confidential(reporter, team, staging):
    return near_miss_report(reporter=reporter, team=team, title="Zebra", summary="s", environment=staging,
                            caught_by=Incident.CaughtBy.CODE_REVIEW, confidential=True)  # fmt: skip


def test_staff_do_not_see_the_confidential_audience_report(client, staff, reporter, team, staging):
    file_confidential(reporter, team, staging)
    report_generate(week=Week.containing(timezone.localdate()), team=team)
    client.force_login(staff)
    seen = client.get(reverse("admin:incidents_trendreport_changelist")).context["cl"].result_list
    assert {row.audience for row in seen} == {"everyone"}
    hidden = TrendReport.objects.get(audience="confidential")
    assert client.get(reverse("admin:incidents_trendreport_change", args=[hidden.pk])).status_code == 302


def test_staff_do_not_see_the_outbox_message_of_a_confidential_filing(client, staff, reporter, team, staging):
    file_confidential(reporter, team, staging)
    client.force_login(staff)
    assert client.get(reverse("admin:incidents_outboxmessage_changelist")).status_code == 403
    message = OutboxMessage.objects.get()
    assert client.get(reverse("admin:incidents_outboxmessage_change", args=[message.pk])).status_code in (302, 403)


def test_alert_with_a_multi_line_summary_is_filed(writer):  # noqa: F811
    body = payload("alertmanager_firing.json")
    body["alerts"] = body["alerts"][:1]
    body["alerts"][0]["annotations"]["summary"] = "Disk is\nfull on db-1"
    response = writer.post("/api/v1/hooks/alertmanager/", body)
    assert response.status_code == 200
    assert response.json()["errors"] == [] and Incident.objects.count() == 1
