"""Timeline entries edited and deleted on the web, each change a revision in the item's history; and the
durations on the incident page."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse

from incidents.models import AuditEntry, IncidentRevision, TimelineEntry
from incidents.services import incident_revision_record
from incidents.templatetags.durations import readable_duration
from tests.factories import IncidentFactory, TimelineEntryFactory

pytestmark = pytest.mark.django_db
START = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def incident(team, reporter):
    incident = IncidentFactory(team=team, status="draft", started_at=START)
    incident_revision_record(incident=incident, author_id=reporter.pk)
    return incident


@pytest.fixture
def entry(incident):
    return TimelineEntryFactory(incident=incident, at=START + dt.timedelta(minutes=5), text="Alert fired.")


def edit_url(entry):
    return reverse("incidents:timeline_edit", args=[entry.incident.reference, entry.key])


def delete_url(entry):
    return reverse("incidents:timeline_delete", args=[entry.incident.reference, entry.key])


def detail(incident):
    return reverse("incidents:incident_detail", args=[incident.reference])


def history(incident):
    return reverse("incidents:incident_history", args=[incident.reference])


def test_edit_an_entry_and_see_it_in_the_history(login, reporter, incident, entry):
    client = login(reporter)
    assert edit_url(entry) in client.get(detail(incident)).content.decode()
    assert 'value="Alert fired."' in client.get(edit_url(entry)).content.decode() or "Alert fired." in (
        client.get(edit_url(entry)).content.decode()
    )
    response = client.post(
        edit_url(entry),
        {"timeline-at": "2026-01-05T09:07", "timeline-text": "Pager fired.", "timeline-expected_version": 1},
    )
    assert response.status_code == 302
    entry.refresh_from_db()
    incident.refresh_from_db()
    assert entry.text == "Pager fired." and incident.version == 2
    revision = incident.revisions.get(version=2)
    assert revision.author == reporter and "Pager fired." in revision.timeline and "Alert fired." in revision.note
    assert "Pager fired." in client.get(history(incident)).content.decode()
    diff = client.get(reverse("incidents:revision_diff", args=[incident.reference, 2])).content.decode()
    assert "Alert fired." in diff and "Pager fired." in diff
    assert AuditEntry.objects.filter(action="timeline entry changed").count() == 1


def test_delete_an_entry_and_the_history_keeps_it(login, reporter, incident, entry):
    client = login(reporter)
    response = client.post(delete_url(entry), {"expected_version": 1})
    assert response.status_code == 302
    assert not TimelineEntry.objects.filter(pk=entry.pk).exists()
    incident.refresh_from_db()
    revision = incident.revisions.get(version=2)
    assert revision.timeline == "" and "deleted" in revision.note
    page = client.get(history(incident)).content.decode()
    assert "Alert fired." in page and "deleted" in page
    diff = client.get(reverse("incidents:revision_diff", args=[incident.reference, 2])).content.decode()
    assert "Alert fired." in diff


def test_a_stale_version_is_refused_and_changes_nothing(login, reporter, incident, entry):
    client = login(reporter)
    client.post(
        edit_url(entry),
        {"timeline-at": "2026-01-05T09:07", "timeline-text": "First", "timeline-expected_version": 1},
    )
    replay = client.post(
        edit_url(entry),
        {"timeline-at": "2026-01-05T09:08", "timeline-text": "Second", "timeline-expected_version": 1},
    )
    assert replay.status_code == 400 and "changed meanwhile" in replay.content.decode()
    entry.refresh_from_db()
    assert entry.text == "First"
    client.post(delete_url(entry), {"expected_version": 1}, follow=True)
    assert TimelineEntry.objects.filter(pk=entry.pk).exists()
    assert IncidentRevision.objects.filter(incident=incident).count() == 2


def test_saving_an_entry_unchanged_makes_no_revision(login, reporter, incident, entry):
    login(reporter).post(
        edit_url(entry),
        {"timeline-at": "2026-01-05T09:05", "timeline-text": "Alert fired.", "timeline-expected_version": 1},
    )
    incident.refresh_from_db()
    assert incident.version == 1 and incident.revisions.count() == 1


@pytest.mark.parametrize(
    "data",
    [
        {"timeline-at": "1969-12-31T23:00", "timeline-text": "x", "timeline-expected_version": 1},
        {"timeline-at": "2101-01-01T00:00", "timeline-text": "x", "timeline-expected_version": 1},
        {"timeline-at": "2026-01-05T08:00", "timeline-text": "", "timeline-expected_version": 1},
        {"timeline-text": "no time", "timeline-expected_version": 1},
        {"timeline-at": "2026-01-05T09:07", "timeline-text": "x"},
        {"timeline-at": "2026-01-05T09:07", "timeline-text": "x" * 2001, "timeline-expected_version": 1},
    ],
)
def test_bad_edits_are_form_errors(login, reporter, incident, entry, data):
    response = login(reporter).post(edit_url(entry), data)
    assert response.status_code == 400
    entry.refresh_from_db()
    assert entry.text == "Alert fired."


def test_an_empty_delete_post_deletes_nothing(login, reporter, entry):
    assert login(reporter).post(delete_url(entry), {}).status_code == 400
    assert TimelineEntry.objects.filter(pk=entry.pk).exists()


def test_a_member_of_another_team_may_not_edit_or_delete(login, outsider, incident, entry):
    client = login(outsider)
    assert edit_url(entry) not in client.get(detail(incident)).content.decode()
    assert client.get(edit_url(entry)).status_code == 403
    assert client.post(edit_url(entry), {"timeline-at": "2026-01-05T09:07", "timeline-text": "x",
                                         "timeline-expected_version": 1}).status_code == 403  # fmt: skip
    assert client.post(delete_url(entry), {"expected_version": 1}).status_code == 403
    entry.refresh_from_db()
    assert entry.text == "Alert fired."


def test_an_entry_of_another_item_is_not_found_through_this_one(login, reporter, incident, team):
    other = TimelineEntryFactory(incident=IncidentFactory(team=team))
    url = reverse("incidents:timeline_delete", args=[incident.reference, other.key])
    assert login(reporter).post(url, {"expected_version": 1}).status_code == 404
    assert TimelineEntry.objects.filter(pk=other.pk).exists()
    assert (
        login(reporter).get(reverse("incidents:timeline_edit", args=[incident.reference, "0" * 20])).status_code
        == 404
    )


def test_entries_are_named_by_a_key_not_their_id(login, reporter, incident, entry):
    page = login(reporter).get(detail(incident)).content.decode()
    assert f"/timeline/{entry.key}/" in page and f"/timeline/{entry.pk}/" not in page
    assert entry.key != str(entry.pk) and len(entry.key) == 20


def test_edit_and_delete_need_csrf(reporter, entry):
    client = Client(enforce_csrf_checks=True)
    client.force_login(reporter)
    assert client.post(delete_url(entry), {"expected_version": 1}).status_code == 403
    assert TimelineEntry.objects.filter(pk=entry.pk).exists()


def test_a_confidential_near_miss_timeline_is_edited_by_leads_only(login, reporter, lead, confidential):
    entry = TimelineEntryFactory(incident=confidential, text="Hook blocked the push.")
    data = {
        "timeline-at": "2026-01-05T09:07",
        "timeline-text": "Edited",
        "timeline-expected_version": confidential.version,
    }
    assert login(reporter).post(edit_url(entry), data).status_code == 403
    assert login(lead).post(edit_url(entry), data).status_code == 302
    revision = confidential.revisions.get(version=confidential.version + 1)
    assert revision.author is None  # a confidential item's history names nobody


# --- Durations ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minutes", "text"),
    [(0, "under a minute"), (45, "45 min"), (72, "1 h 12 min"), (120, "2 h"), (60 * 24 * 3 + 65, "3 d 1 h")],
)
def test_readable_durations(minutes, text):
    assert readable_duration(dt.timedelta(minutes=minutes)) == text


def test_the_incident_page_shows_time_to_detect_and_to_restore(login, reporter, team):
    incident = IncidentFactory(team=team, started_at=START, detected_at=START + dt.timedelta(minutes=12),
                               resolved_at=START + dt.timedelta(hours=1, minutes=24))  # fmt: skip
    page = " ".join(login(reporter).get(detail(incident)).content.decode().split())
    assert "Time to detect</dt><dd>12 min" in page
    assert "Time to restore</dt><dd>1 h 24 min" in page and "1 h 12 min after detection" in page


def test_durations_show_only_when_the_times_exist(login, reporter, team):
    incident = IncidentFactory(team=team, started_at=START, detected_at=None, resolved_at=None)
    page = login(reporter).get(detail(incident)).content.decode()
    assert "Time to detect" not in page and "Time to restore" not in page
    resolved = IncidentFactory(
        team=team, started_at=START, detected_at=None, resolved_at=START + dt.timedelta(hours=2)
    )
    page = " ".join(login(reporter).get(detail(resolved)).content.decode().split())
    assert "Time to detect" not in page and "Time to restore</dt><dd>2 h" in page and "after detection" not in page
