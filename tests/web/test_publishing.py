"""Publishing with guard rails: a completeness check before review and publishing that advises and never blocks,
amendments to published postmortems recorded and announced, and a template that does not repeat the form."""

from __future__ import annotations

import html

import pytest
from django.urls import reverse

from incidents.markdown import POSTMORTEM_TEMPLATE
from incidents.models import ActionItem, AuditEntry, Incident, IncidentCause, IncidentRevision, OutboxMessage
from incidents.outbox import outbox_process
from tests.factories import IncidentFactory, MembershipFactory, NearMissFactory, UserFactory, cause
from tests.web.test_postmortems import edit_data

pytestmark = pytest.mark.django_db

COMPLETE_BODY = "## Impact\n\nDeclines for 12 minutes.\n\n## Contributing factors\n\nNo canary for the config."


def status_url(incident):
    return reverse("incidents:incident_status", args=[incident.reference])


def complete(team, **overrides):
    """A postmortem a reviewer would pass: causes with notes, a timeline, action items, its own words."""
    incident = IncidentFactory(
        **{"team": team, "status": Incident.Status.DRAFT, "body": COMPLETE_BODY, **overrides}
    )
    IncidentCause.objects.create(incident=incident, cause=cause("missing-check"), note="No canary stage.")
    incident.timeline.create(at=incident.started_at, text="Alert fired.")
    ActionItem.objects.create(incident=incident, team=team, title="Add a canary stage")
    return incident


def test_sending_an_unfinished_postmortem_for_review_shows_what_is_missing(login, reporter, team):
    draft = IncidentFactory(
        team=team,
        status=Incident.Status.DRAFT,
        severity="sev1",
        body=POSTMORTEM_TEMPLATE + "\nIt was human error.",
    )
    IncidentCause.objects.create(incident=draft, cause=cause("missing-check"), note="")
    response = login(reporter).post(status_url(draft), {"status": "in_review", "expected_version": draft.version})
    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    for gap in (
        "line(s) of the template's guidance",
        "may read as blame",
        "Causes without a note on how they applied: Missing check",
        "A SEV1 (critical) without action items.",
        "No timeline entries.",
    ):
        assert gap in page, gap
    assert "Send for review anyway" in page
    draft.refresh_from_db()
    assert draft.status == Incident.Status.DRAFT and draft.version == 1  # nothing changed yet


def test_the_check_advises_and_the_move_can_be_made_anyway(login, reporter, lead, team):
    draft = IncidentFactory(team=team, status=Incident.Status.DRAFT, body=POSTMORTEM_TEMPLATE)
    client = login(reporter)
    data = {"status": "in_review", "expected_version": draft.version, "anyway": "on"}
    assert client.post(status_url(draft), data).status_code == 302
    draft.refresh_from_db()
    assert draft.status == Incident.Status.IN_REVIEW
    # A lead may publish anyway too.
    response = login(lead).post(status_url(draft), {"status": "published", "expected_version": draft.version})
    assert response.status_code == 200 and "Publish anyway" in response.content.decode()
    data = {"status": "published", "expected_version": draft.version, "anyway": "on"}
    assert login(lead).post(status_url(draft), data).status_code == 302
    draft.refresh_from_db()
    assert draft.status == Incident.Status.PUBLISHED


def test_a_complete_postmortem_moves_without_a_stop(login, reporter, team):
    draft = complete(team)
    response = login(reporter).post(status_url(draft), {"status": "in_review", "expected_version": draft.version})
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.status == Incident.Status.IN_REVIEW


def test_the_incident_page_lists_the_gaps_to_those_who_may_send_it(login, reporter, outsider, team):
    draft = IncidentFactory(team=team, status=Incident.Status.DRAFT, body=POSTMORTEM_TEMPLATE)
    url = reverse("incidents:incident_detail", args=[draft.reference])
    assert "Before it goes out" in login(reporter).get(url).content.decode()
    assert "Before it goes out" not in login(outsider).get(url).content.decode()
    assert (
        "Before it goes out"
        not in login(reporter)
        .get(reverse("incidents:incident_detail", args=[complete(team).reference]))
        .content.decode()
    )


def test_the_check_is_not_a_way_around_the_policy(login, reporter, outsider, team):
    draft = IncidentFactory(team=team, status=Incident.Status.DRAFT, body=POSTMORTEM_TEMPLATE)
    response = login(outsider).post(status_url(draft), {"status": "in_review", "expected_version": 1})
    assert response.status_code in (403, 404)
    # A member may not publish: the check is not shown, the refusal is.
    draft = complete(team, status=Incident.Status.IN_REVIEW)
    client = login(reporter)
    response = client.post(
        status_url(draft), {"status": "published", "expected_version": draft.version}, follow=True
    )
    draft.refresh_from_db()
    assert draft.status == Incident.Status.IN_REVIEW and "Publish anyway" not in response.content.decode()


def test_editing_a_published_postmortem_is_an_amendment_and_the_team_is_told(
    login, reporter, lead, team, mailoutbox
):
    published = complete(team, status=Incident.Status.PUBLISHED)
    client = login(lead)
    edit = reverse("incidents:incident_edit", args=[published.reference])
    response = client.post(edit, edit_data(published, body=COMPLETE_BODY + "\n\nCorrected: 14 minutes."))
    assert response.status_code == 302
    revision = IncidentRevision.objects.filter(incident=published).order_by("-version").first()
    assert revision.note == IncidentRevision.AMENDMENT_NOTE
    assert AuditEntry.objects.filter(object_id=str(published.pk), action="amended").exists()
    message = OutboxMessage.objects.get(handler="postmortem_amended")
    assert outbox_process(message_id=message.pk) is True
    assert sorted(mail.to for mail in mailoutbox) == sorted([[reporter.email], [lead.email]])  # one each
    assert f"{published.reference} amended" in mailoutbox[0].subject
    page = client.get(reverse("incidents:incident_detail", args=[published.reference])).content.decode()
    assert "Amended 1 time since publishing" in page


def test_editing_a_draft_or_publishing_is_not_an_amendment(login, reporter, lead, team):
    draft = complete(team)
    client = login(reporter)
    client.post(reverse("incidents:incident_edit", args=[draft.reference]), edit_data(draft, summary="Shorter."))
    draft.refresh_from_db()
    login(lead).post(status_url(draft), {"status": "published", "expected_version": draft.version, "anyway": "on"})
    assert not OutboxMessage.objects.filter(handler="postmortem_amended").exists()
    assert not IncidentRevision.objects.filter(note=IncidentRevision.AMENDMENT_NOTE).exists()


def test_correcting_the_timeline_of_a_published_postmortem_is_an_amendment(login, lead, team, mailoutbox):
    published = complete(team, status=Incident.Status.PUBLISHED)
    entry = published.timeline.get()
    url = reverse("incidents:timeline_delete", args=[published.reference, entry.key])
    assert login(lead).post(url, {"expected_version": published.version}).status_code == 302
    revision = published.revisions.order_by("-version").first()
    assert revision.note.startswith(IncidentRevision.AMENDMENT_NOTE) and "deleted" in revision.note
    assert OutboxMessage.objects.filter(handler="postmortem_amended").count() == 1


def test_the_amendment_mail_goes_to_each_active_member_apart(reporter, lead, team, mailoutbox):
    gone = MembershipFactory(user=UserFactory(username="gone", is_active=False), team=team).user
    published = complete(team, status=Incident.Status.PUBLISHED)
    message = OutboxMessage.objects.create(
        handler="postmortem_amended", payload={"incident_id": published.pk, "version": published.version}
    )
    assert outbox_process(message_id=message.pk) is True
    assert sorted(mail.to for mail in mailoutbox) == sorted([[reporter.email], [lead.email]])
    assert all(gone.email not in mail.recipients() for mail in mailoutbox)


def test_the_editor_keeps_no_local_draft_of_a_confidential_near_miss(login, lead, team):
    secret = NearMissFactory(team=team, confidential=True, status=Incident.Status.DRAFT)
    page = login(lead).get(reverse("incidents:incident_edit", args=[secret.reference])).content.decode()
    assert "data-draft-key" not in page
    plain = IncidentFactory(team=team, status=Incident.Status.DRAFT)
    page = login(lead).get(reverse("incidents:incident_edit", args=[plain.reference])).content.decode()
    assert f'data-draft-key="hindsight-draft:{lead.pk}:{plain.reference}:v1"' in page
