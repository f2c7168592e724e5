"""Confidential near-misses: the reporter is kept apart, purged on schedule, and the receipt survives."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from incidents import tasks
from incidents.models import ConfidentialReporter, Incident
from incidents.policies import viewer_for_user
from incidents.selectors import incidents_visible
from incidents.services import confidential_reporters_purge, near_miss_report
from tests.factories import cause

pytestmark = pytest.mark.django_db


def file_confidential(reporter, team, staging):
    return near_miss_report(
        reporter=reporter, team=team, title="Almost emailed the customer list", summary="Caught in review.",
        environment=staging, caught_by=Incident.CaughtBy.CODE_REVIEW, causes=[cause("unsafe-data-handling")],
        confidential=True,
    )  # fmt: skip


def test_identity_is_purged_after_the_retention_and_only_then(reporter, team, staging, settings):
    settings.CONFIDENTIAL_REPORTER_RETENTION_DAYS = 30
    filed_at = timezone.now()
    with time_machine.travel(filed_at, tick=False):
        filing = file_confidential(reporter, team, staging)
    held = ConfidentialReporter.objects.get(incident=filing.incident)
    assert confidential_reporters_purge(now=filed_at + dt.timedelta(days=29)) == 0
    assert ConfidentialReporter.objects.get(pk=held.pk).user == reporter
    assert confidential_reporters_purge(now=filed_at + dt.timedelta(days=30, seconds=1)) == 1
    purged = ConfidentialReporter.objects.get(pk=held.pk)
    assert purged.user is None and purged.purged_at is not None
    assert purged.receipt_hash == held.receipt_hash
    assert confidential_reporters_purge(now=filed_at + dt.timedelta(days=31)) == 0


def test_after_the_purge_the_reporter_no_longer_sees_it_but_the_receipt_works(
    client, reporter, lead, team, staging
):
    filing = file_confidential(reporter, team, staging)
    assert filing.incident in incidents_visible(viewer_for_user(reporter))
    with time_machine.travel(
        timezone.now() + dt.timedelta(days=settings.CONFIDENTIAL_REPORTER_RETENTION_DAYS + 1)
    ):
        assert tasks.confidential_reporters_purge_task() == 1
    assert filing.incident not in incidents_visible(viewer_for_user(reporter))
    assert filing.incident in incidents_visible(viewer_for_user(lead))
    client.force_login(reporter)
    page = client.get(reverse("incidents:receipt", args=[filing.receipt_code]))
    assert page.status_code == 200
    assert filing.incident.reference in page.content.decode()
    assert client.get(reverse("incidents:receipt", args=["not-a-real-code"])).status_code == 404


def test_only_admins_see_who_reported_and_the_report_never_names_them(
    client, reporter, lead, admin_user, team, staging
):
    filing = file_confidential(reporter, team, staging)
    url = reverse("incidents:incident_detail", args=[filing.incident.reference])
    reported_by = re.compile(r"<dt>Reported by</dt><dd>([^<]*)</dd>")
    client.force_login(lead)
    assert reported_by.search(client.get(url).content.decode()).group(1) == "kept confidential"
    client.force_login(admin_user)
    assert reported_by.search(client.get(url).content.decode()).group(1) == "rita (visible to admins only)"
    admin_list = client.get(reverse("admin:incidents_confidentialreporter_changelist")).content.decode()
    assert "rita" in admin_list


def test_the_purge_runs_every_day_from_the_beat_schedule():
    entry = settings.CELERY_BEAT_SCHEDULE["purge-confidential-reporters"]
    assert entry["task"] == "incidents.confidential_reporters_purge"
    assert entry["schedule"].hour == {3} and entry["schedule"].minute == {15}
