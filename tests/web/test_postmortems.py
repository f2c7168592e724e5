"""Writing a postmortem: template, preview without JavaScript, status workflow, timeline, action items,
revision history and the conflict page when two people edit at once."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from incidents.markdown import POSTMORTEM_TEMPLATE
from incidents.models import ActionItem, Incident, IncidentRevision
from tests.factories import IncidentFactory, ReleaseFactory, cause

pytestmark = pytest.mark.django_db


def edit_data(incident, **overrides):
    data = {
        "expected_version": incident.version,
        "title": incident.title,
        "severity": incident.severity,
        "environment": incident.environment_id or "",
        "caught_by": incident.caught_by,
        "started_at": incident.started_at.strftime("%Y-%m-%dT%H:%M"),
        "summary": incident.summary,
        "trigger": incident.trigger,
        "body": incident.body,
    }
    data.update(overrides)
    return data


@pytest.fixture
def draft(team, service):
    return IncidentFactory(
        team=team, status=Incident.Status.DRAFT, body="## Summary\n\nFirst words.", services=[service],
        title="Checkout errors after the 2.4 deploy",
    )  # fmt: skip


def test_new_postmortem_is_prefilled_with_the_template(login, reporter):
    page = login(reporter).get(reverse("incidents:incident_create")).content.decode()
    for heading in ("## Impact", "## Contributing factors", "## What went well", "## Where we got lucky"):
        assert heading in page
    # What the form asks as fields of its own is not asked again in the body.
    for heading in ("## Summary", "## Timeline", "## Action items"):
        assert heading not in page


def test_creating_a_postmortem_stores_it_with_causes_and_a_first_revision(login, reporter, team, prod, service):
    release = ReleaseFactory(service=service, version="2.4.1")
    missing = cause("missing-check")
    response = login(reporter).post(
        reverse("incidents:incident_create"),
        {
            "title": "Card payments failed", "team": team.pk, "severity": "sev2", "environment": prod.pk,
            "caught_by": "monitoring_alert", "started_at": "2026-01-05T10:00", "detected_at": "2026-01-05T10:07",
            "summary": "Declines for 12 minutes.", "body": POSTMORTEM_TEMPLATE, "services": [service.pk],
            "release_versions": "2.4.1", f"cause_{missing.pk}": "on", f"note_{missing.pk}": "No contract test.",
            f"gate_{missing.pk}": "ci",
        },
    )  # fmt: skip
    incident = Incident.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/incidents/{incident.reference}/")
    assert incident.status == Incident.Status.DRAFT and incident.reporter == reporter
    link = incident.incident_causes.get()
    assert (link.cause, link.note, link.gate) == (missing, "No contract test.", "ci")
    assert list(incident.releases.all()) == [release]
    assert "<h2>Impact</h2>" in incident.body_html
    assert incident.revisions.get().version == 1


def test_creating_with_times_out_of_order_shows_the_error_beside_the_field(login, reporter, team, prod):
    response = login(reporter).post(
        reverse("incidents:incident_create"),
        {"title": "Out of order", "team": team.pk, "environment": prod.pk, "started_at": "2026-01-05T10:00",
         "detected_at": "2026-01-05T09:00", "body": "Kept text"},
    )  # fmt: skip
    assert response.status_code == 400
    assert response.context["form"].errors["detected_at"] == ["Cannot be before the start time."]
    assert "Kept text" in response.content.decode() and not Incident.objects.exists()


def test_the_preview_button_renders_without_saving(login, reporter, draft):
    url = reverse("incidents:incident_edit", args=[draft.reference])
    response = login(reporter).post(url, edit_data(draft, body="## New heading\n\n*unsaved*", preview="1"))
    assert response.status_code == 200
    assert "<h2>New heading</h2>" in response.content.decode()
    draft.refresh_from_db()
    assert draft.body == "## Summary\n\nFirst words." and draft.version == 1


def test_live_preview_endpoint_renders_markdown_and_hints(login, reporter):
    response = login(reporter).post(
        reverse("incidents:preview"), {"body": "# Title\n\nIt was human error, **again**."}
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "<h1>Title</h1>" in page and "<strong>again</strong>" in page
    assert "human error" in page and "Missing check" in page


def test_saving_keeps_a_revision_and_the_history_shows_a_readable_diff(login, reporter, draft):
    client = login(reporter)
    url = reverse("incidents:incident_edit", args=[draft.reference])
    response = client.post(url, edit_data(draft, body="## Summary\n\nBetter words.\n\n## Impact\n\nNone."))
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.version == 2 and "Better words." in draft.body_html
    history = client.get(reverse("incidents:incident_history", args=[draft.reference])).content.decode()
    assert "Version 2" in history and "rita" in history
    first_kept = client.get(reverse("incidents:revision_diff", args=[draft.reference, 2])).content.decode()
    assert "The first kept version." in first_kept and "Better words." in first_kept  # shown as it was
    client.post(url, edit_data(draft, body="## Summary\n\nBest words.\n\n## Impact\n\nNone."))
    diff = client.get(reverse("incidents:revision_diff", args=[draft.reference, 3])).content.decode()
    assert '<tr class="diff-removed">' in diff and "Better words." in diff
    assert '<tr class="diff-added">' in diff and "Best words." in diff
    assert "Compared with version 2." in diff


def test_diff_between_two_kept_revisions_marks_removed_and_added_lines(login, reporter, draft):
    client = login(reporter)
    url = reverse("incidents:incident_edit", args=[draft.reference])
    client.post(url, edit_data(draft, body="line one\nline two\n"))
    draft.refresh_from_db()
    client.post(url, edit_data(draft, body="line one\nline 2\n"))
    response = client.get(reverse("incidents:revision_diff", args=[draft.reference, 3]))
    rows = response.context["changes"][0][1]
    assert [(row.kind, row.text) for row in rows] == [
        ("same", "line one"), ("removed", "line two"), ("added", "line 2")
    ]  # fmt: skip


def test_two_editors_never_overwrite_each_other_silently(login, reporter, lead, draft, client):
    url = reverse("incidents:incident_edit", args=[draft.reference])
    seen_by_both = edit_data(draft)
    client.force_login(lead)
    assert client.post(url, {**seen_by_both, "body": "Lead's version of events."}).status_code == 302
    client.force_login(reporter)
    response = client.post(url, {**seen_by_both, "body": "Reporter's version of events."})
    assert response.status_code == 409
    page = response.content.decode()
    assert "Lead&#x27;s version of events." in page and "Reporter&#x27;s version of events." in page
    assert "not</strong> saved" in page and "by leo" in page
    draft.refresh_from_db()
    assert draft.body == "Lead's version of events." and draft.version == 2
    # The conflict form carries the new version: saving again is a deliberate overwrite.
    assert response.context["form"]["expected_version"].value() == "2"
    again = client.post(url, {**seen_by_both, "expected_version": 2, "body": "Merged version."})
    assert again.status_code == 302
    draft.refresh_from_db()
    assert draft.body == "Merged version." and draft.version == 3


def test_status_workflow_member_sends_for_review_and_lead_publishes(login, reporter, lead, draft, client):
    url = reverse("incidents:incident_status", args=[draft.reference])
    client.force_login(reporter)
    # The draft is unfinished (tests/web/test_publishing.py): past the completeness check "anyway".
    assert client.post(url, {"status": "in_review", "expected_version": 1, "anyway": "on"}).status_code == 302
    draft.refresh_from_db()
    assert draft.status == Incident.Status.IN_REVIEW
    assert client.post(url, {"status": "published", "expected_version": 2}).status_code == 403
    client.force_login(lead)
    client.post(url, {"status": "published", "expected_version": 2, "anyway": "on"})
    draft.refresh_from_db()
    assert draft.status == Incident.Status.PUBLISHED
    assert list(IncidentRevision.objects.filter(incident=draft).values_list("status", flat=True)) == [
        "published", "in_review"
    ]  # fmt: skip


def test_a_status_jump_outside_the_workflow_is_refused_with_a_message(login, lead, draft):
    client = login(lead)
    response = client.post(
        reverse("incidents:incident_status", args=[draft.reference]),
        {"status": "published", "expected_version": 1},
        follow=True,
    )
    assert "can move to" in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == Incident.Status.DRAFT


def test_a_stale_status_change_is_refused(login, reporter, draft):
    response = login(reporter).post(
        reverse("incidents:incident_status", args=[draft.reference]),
        {"status": "in_review", "expected_version": 7},
        follow=True,
    )
    assert "changed meanwhile" in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == Incident.Status.DRAFT


def test_timeline_entries_are_added_and_bad_ones_are_explained(login, reporter, draft):
    client = login(reporter)
    url = reverse("incidents:timeline_add", args=[draft.reference])
    at = draft.started_at.strftime("%Y-%m-%dT%H:%M")
    assert client.post(url, {"timeline-at": at, "timeline-text": "Alert fired."}).status_code == 302
    assert draft.timeline.get().text == "Alert fired."
    response = client.post(url, {"timeline-at": "", "timeline-text": "Lost?"})
    assert response.status_code == 400
    assert response.context["timeline_form"].errors["at"] == ["This field is required."]
    assert "Lost?" in response.content.decode()


def test_action_items_are_added_with_owner_and_due_date(login, reporter, lead, draft):
    client = login(reporter)
    url = reverse("incidents:action_item_add", args=[draft.reference])
    response = client.post(
        url, {"action-title": "Add a contract test", "action-owner": lead.pk, "action-due_date": "2030-01-31",
              "action-cause": cause("missing-check").pk}
    )  # fmt: skip
    assert response.status_code == 302
    item = ActionItem.objects.get()
    assert (item.owner, str(item.due_date), item.cause.slug) == (lead, "2030-01-31", "missing-check")
    bad = client.post(url, {"action-title": "", "action-ticket_url": "javascript:alert(1)"})
    assert bad.status_code == 400
    assert set(bad.context["action_form"].errors) == {"title", "ticket_url"}
    assert ActionItem.objects.count() == 1


def test_an_owner_from_another_team_cannot_be_chosen(login, reporter, outsider, draft):
    response = login(reporter).post(
        reverse("incidents:action_item_add", args=[draft.reference]),
        {"action-title": "Fix it", "action-owner": outsider.pk},
    )
    assert response.status_code == 400 and "owner" in response.context["action_form"].errors


def test_blame_language_is_hinted_at_review_but_never_blocks(login, reporter, lead, draft):
    client = login(reporter)
    body = "## What happened\n\nIt was human error: rita forgot to run the migration check."
    assert (
        client.post(
            reverse("incidents:incident_edit", args=[draft.reference]), edit_data(draft, body=body)
        ).status_code
        == 302
    )
    client.post(
        reverse("incidents:incident_status", args=[draft.reference]),
        {"status": "in_review", "expected_version": 2},
    )
    page = login(lead).get(reverse("incidents:incident_detail", args=[draft.reference])).content.decode()
    assert "Blameless writing" in page
    assert "<q>human error</q>" in page and "<q>rita forgot</q>" in page
    assert "Missing check" in page


def test_suspect_releases_are_shown_on_the_incident_page(login, reporter, team, service, prod):
    from tests.factories import DeploymentFactory

    incident = IncidentFactory(team=team, services=[service], environment=prod)
    release = ReleaseFactory(service=service, version="3.1.0")
    DeploymentFactory(release=release, environment=prod, deployed_at=incident.started_at - dt.timedelta(hours=1))
    page = login(reporter).get(reverse("incidents:incident_detail", args=[incident.reference])).content.decode()
    assert "Suspect releases" in page and "checkout-api 3.1.0" in page


def test_edit_form_errors_sit_beside_their_fields_and_nothing_is_saved(login, reporter, draft):
    config_drift = cause("config-drift")
    response = login(reporter).post(
        reverse("incidents:incident_edit", args=[draft.reference]),
        edit_data(
            draft,
            title="",
            body="Kept body text",
            release_versions="no-such-service 9.9.9",
            severity="sev0",
            **{f"note_{config_drift.pk}": "note without its cause"},
        ),
    )
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert {"title", "release_versions", "severity", f"cause_{config_drift.pk}"} <= set(errors)
    assert "Tick this cause to keep its note and gate." in errors[f"cause_{config_drift.pk}"]
    page = response.content.decode()
    assert "Kept body text" in page and "note without its cause" in page
    assert 'aria-describedby="id_title_error"' in page
    draft.refresh_from_db()
    assert draft.version == 1 and draft.body == "## Summary\n\nFirst words."


def test_a_missing_version_is_an_error_not_a_crash(login, reporter, draft):
    data = edit_data(draft)
    del data["expected_version"]
    response = login(reporter).post(reverse("incidents:incident_edit", args=[draft.reference]), data)
    assert response.status_code == 400 and "expected_version" in response.context["form"].errors
