"""The shared writes accept good input and reject bad input with a message that names the field."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from incidents.models import ActionItem, ConfidentialReporter, Deployment, Incident, Release
from incidents.policies import Viewer, viewer_for_team, viewer_for_user
from incidents.services import (
    ActionItemInput,
    CauseInput,
    TimelineInput,
    VersionConflict,
    action_item_complete,
    action_item_create,
    deployment_record,
    incident_create,
    incident_update,
    near_miss_report,
    release_record,
    timeline_entry_add,
)
from incidents.tokens import receipt_hash
from tests.factories import ActionItemFactory, IncidentFactory, ReleaseFactory, ServiceFactory, cause

pytestmark = pytest.mark.django_db

ADMIN = Viewer(user_id=None, team_ids=frozenset(), lead_team_ids=frozenset(), is_admin=True)


def field_errors(excinfo) -> dict:
    return excinfo.value.message_dict


def file_near_miss(reporter, team, staging, **overrides):
    fields = {
        "reporter": reporter, "team": team, "title": "Migration would have locked orders",
        "summary": "Review caught an ALTER TABLE without a lock timeout.", "environment": staging,
        "caught_by": Incident.CaughtBy.CODE_REVIEW, "causes": [cause("missing-check")],
    }  # fmt: skip
    return near_miss_report(**(fields | overrides))


def test_near_miss_gets_the_next_nm_number_and_is_published(reporter, team, staging, service):
    first = file_near_miss(reporter, team, staging, service=service).incident
    second = file_near_miss(reporter, team, staging).incident
    assert (first.reference, second.reference) == ("NM-1", "NM-2")
    assert first.status == Incident.Status.PUBLISHED
    assert first.reporter == reporter
    assert list(first.services.all()) == [service]
    assert [c.slug for c in first.causes.all()] == ["missing-check"]


def test_confidential_near_miss_keeps_the_reporter_apart_and_returns_a_receipt(reporter, team, staging):
    filing = file_near_miss(reporter, team, staging, confidential=True)
    assert filing.incident.reporter is None
    assert filing.receipt_code and len(filing.receipt_code) >= 32
    held = ConfidentialReporter.objects.get(incident=filing.incident)
    assert held.user == reporter
    assert held.receipt_hash == receipt_hash(filing.receipt_code) != filing.receipt_code


def test_near_miss_reporter_must_belong_to_the_team(outsider, team, staging):
    with pytest.raises(ValidationError) as excinfo:
        file_near_miss(outsider, team, staging)
    assert "not a member of Payments" in field_errors(excinfo)["team"][0]
    with pytest.raises(ValidationError):
        file_near_miss(outsider, team, staging, confidential=True)
    assert not Incident.objects.exists()


def test_near_miss_needs_a_title_and_how_it_was_caught(reporter, team, staging):
    with pytest.raises(ValidationError) as excinfo:
        file_near_miss(reporter, team, staging, title="")
    assert "title" in field_errors(excinfo)
    with pytest.raises(ValidationError) as excinfo:
        file_near_miss(reporter, team, staging, caught_by="")
    assert "caught_by" in field_errors(excinfo)


def test_near_miss_release_must_belong_to_its_service(reporter, team, staging, service):
    other_release = ReleaseFactory()
    with pytest.raises(ValidationError) as excinfo:
        file_near_miss(reporter, team, staging, service=service, release=other_release)
    assert "belongs to" in field_errors(excinfo)["release"][0]


def test_retired_and_repeated_causes_are_refused(reporter, team, staging):
    retired = cause("alert-fatigue")
    retired.active = False
    retired.save()
    with pytest.raises(ValidationError, match="retired"):
        file_near_miss(reporter, team, staging, causes=[retired])
    with pytest.raises(ValidationError, match="repeated: missing-check"):
        file_near_miss(reporter, team, staging, causes=[cause("missing-check"), cause("missing-check")])


def test_incident_is_created_with_causes_timeline_and_action_items(team, lead, prod, service):
    start = timezone.now() - dt.timedelta(hours=5)
    incident = incident_create(
        actor=viewer_for_user(lead), team=team, kind=Incident.Kind.INCIDENT, title="Checkout down", reporter=lead, severity="sev1",
        environment=prod, caught_by="monitoring_alert", started_at=start, services=[service],
        causes=[CauseInput(cause=cause("weak-monitoring"), note="No alert on 5xx", gate="prod-monitoring")],
        timeline=[TimelineInput(at=start, text="Deploy"), TimelineInput(at=start + dt.timedelta(minutes=9), text="Page")],
        action_items=[ActionItemInput(title="Alert on 5xx rate", owner=lead, due_date=dt.date(2030, 1, 1))],
    ).obj  # fmt: skip
    assert incident.reference == "INC-1"
    assert "## Contributing factors" in incident.body and "<h2>Contributing factors</h2>" in incident.body_html
    assert [(ic.cause.slug, ic.gate, ic.note) for ic in incident.incident_causes.all()] == [
        ("weak-monitoring", "prod-monitoring", "No alert on 5xx")
    ]
    assert [entry.text for entry in incident.timeline.all()] == ["Deploy", "Page"]
    assert incident.action_items.get().owner == lead


def test_incident_create_rejects_impossible_times_and_unknown_gates(team, prod):
    start, tool = timezone.now(), viewer_for_team(team)
    with pytest.raises(ValidationError) as excinfo:
        incident_create(
            actor=tool,
            team=team,
            kind="incident",
            title="x",
            started_at=start,
            detected_at=start - dt.timedelta(1),
        )
    assert field_errors(excinfo)["detected_at"] == ["Cannot be before the start time."]
    with pytest.raises(ValidationError, match="Gate 'lunch'"):
        incident_create(
            actor=tool,
            team=team,
            kind="incident",
            title="x",
            causes=[CauseInput(cause=cause("missing-check"), gate="lunch")],
        )
    with pytest.raises(ValidationError) as excinfo:
        incident_create(actor=tool, team=team, kind="incident", title="x", number=7)
    assert field_errors(excinfo) == {"number": ["This field cannot be set."]}
    assert not Incident.objects.exists()


def test_incident_create_refuses_a_second_item_for_the_same_external_id(team):
    first = incident_create(
        actor=viewer_for_team(team),
        team=team,
        kind="incident",
        title="Alert",
        status="triage",
        source="alertmanager",
        external_id="fp1",
    )
    with pytest.raises(ValidationError) as excinfo:
        incident_create(
            actor=viewer_for_team(team), team=team, kind="incident", title="Alert", status="triage",
            source="alertmanager", external_id="fp1",
        )  # fmt: skip
    assert first.obj.reference in field_errors(excinfo)["external_id"][0]


def test_update_bumps_the_version_and_renders_the_body(team):
    incident = IncidentFactory(team=team, status=Incident.Status.DRAFT)
    updated = incident_update(
        actor=viewer_for_team(team), incident=incident, expected_version=1, changes={"body": "## Impact\n\n*none*"}
    ).obj
    stored = Incident.objects.get(pk=incident.pk)
    assert (updated.version, stored.version) == (2, 2)
    assert stored.body_html == "<h2>Impact</h2>\n<p><em>none</em></p>"


def test_stale_update_raises_a_conflict_and_keeps_the_first_write(team):
    incident = IncidentFactory(team=team, status=Incident.Status.DRAFT)
    first_copy, second_copy = Incident.objects.get(pk=incident.pk), Incident.objects.get(pk=incident.pk)
    tool = viewer_for_team(team)
    incident_update(actor=tool, incident=first_copy, expected_version=1, changes={"title": "First editor"})
    with pytest.raises(VersionConflict) as excinfo:
        incident_update(actor=tool, incident=second_copy, expected_version=1, changes={"title": "Second editor"})
    assert excinfo.value.current.title == "First editor"
    assert Incident.objects.get(pk=incident.pk).title == "First editor"


def test_status_follows_the_workflow(team, lead):
    incident, actor = IncidentFactory(team=team, status=Incident.Status.DRAFT), viewer_for_user(lead)
    with pytest.raises(ValidationError) as excinfo:
        incident_update(actor=actor, incident=incident, expected_version=1, changes={"status": "published"})
    assert "can move to dismissed, in_review" in field_errors(excinfo)["status"][0]
    incident = incident_update(
        actor=actor, incident=incident, expected_version=1, changes={"status": "in_review"}
    ).obj
    incident = incident_update(
        actor=actor, incident=incident, expected_version=2, changes={"status": "published"}
    ).obj
    assert Incident.objects.get(pk=incident.pk).status == "published"


def test_update_replaces_causes_and_refuses_protected_fields(team):
    incident = IncidentFactory(team=team, causes=["config-drift"])
    incident_update(
        actor=ADMIN, incident=incident, expected_version=1,
        causes=[CauseInput(cause=cause("manual-change"), gate="review")],
    )  # fmt: skip
    assert list(incident.incident_causes.values_list("cause__slug", "gate")) == [("manual-change", "review")]
    with pytest.raises(ValidationError) as excinfo:
        incident_update(
            actor=ADMIN, incident=incident, expected_version=2, changes={"reporter": None, "version": 9}
        )
    assert set(field_errors(excinfo)) == {"reporter", "version"}


def test_timeline_entry_needs_text(team):
    incident = IncidentFactory(team=team)
    with pytest.raises(ValidationError) as excinfo:
        timeline_entry_add(actor=ADMIN, incident=incident, at=timezone.now(), text="")
    assert "text" in field_errors(excinfo)
    assert timeline_entry_add(actor=ADMIN, incident=incident, at=timezone.now(), text="Paged").obj.pk


def test_action_item_is_created_and_completed_once(lead):
    incident = IncidentFactory()
    item = action_item_create(
        actor=ADMIN, incident=incident, title="Rehearse rollback", owner=lead, ticket_url="https://t.example/1"
    ).obj
    done = action_item_complete(actor=viewer_for_user(lead), action_item=item)
    assert done.status == ActionItem.Status.DONE and done.completed_at is not None
    first_completion = done.completed_at
    again = action_item_complete(actor=viewer_for_user(lead), action_item=item, status=ActionItem.Status.WONT_DO)
    assert (again.status, again.completed_at) == (ActionItem.Status.DONE, first_completion)


def test_action_item_rejects_bad_urls_and_statuses():
    incident = IncidentFactory()
    with pytest.raises(ValidationError) as excinfo:
        action_item_create(actor=ADMIN, incident=incident, title="x", ticket_url="javascript:alert(1)")
    assert "ticket_url" in field_errors(excinfo)
    with pytest.raises(ValidationError) as excinfo:
        action_item_complete(actor=ADMIN, action_item=ActionItemFactory(), status="open")
    assert "status" in field_errors(excinfo)


def test_deployment_creates_the_release_once(service, staging, prod):
    first = deployment_record(service=service, version="3.1.0", environment=staging, status="succeeded",
                              gates={"unit-tests": "passed"}, artifact_digest="sha256:abc")  # fmt: skip
    second = deployment_record(service=service, version="3.1.0", environment=prod, status="rolled_back",
                               rollback_rehearsed=True)  # fmt: skip
    assert first.release == second.release
    assert Release.objects.filter(service=service).count() == 1
    assert second.release.artifact_digest == "sha256:abc"
    assert Deployment.objects.filter(release=first.release).count() == 2


def test_deployment_rejects_bad_gates_and_a_different_artifact_for_a_known_version(service, prod):
    with pytest.raises(ValidationError) as excinfo:
        deployment_record(
            service=service, version="1.0", environment=prod, status="succeeded", gates={"canary": "meh"}
        )
    assert "gates" in field_errors(excinfo)
    release_record(service=service, version="1.0", artifact_digest="sha256:aaa")
    with pytest.raises(ValidationError) as excinfo:
        deployment_record(
            service=service, version="1.0", environment=prod, status="succeeded", artifact_digest="sha256:bbb"
        )
    assert "artifact_digest" in field_errors(excinfo)
    with pytest.raises(ValidationError) as excinfo:
        deployment_record(service=service, version="1.1", environment=prod, status="exploded")
    assert "status" in field_errors(excinfo)


def test_deployment_with_an_external_id_is_recorded_once_and_updated(service, prod):
    started = deployment_record(service=service, version="2.0", environment=prod, status="failed",
                                source="github", external_id="145988746")  # fmt: skip
    finished = deployment_record(service=service, version="2.0", environment=prod, status="succeeded",
                                 source="github", external_id="145988746")  # fmt: skip
    assert started.pk == finished.pk
    assert Deployment.objects.get().status == "succeeded"


def test_release_record_fills_in_missing_details_without_duplicating():
    service = ServiceFactory()
    release_record(service=service, version="4.0.0")
    release = release_record(service=service, version="4.0.0", commit_sha="a" * 40)
    assert Release.objects.get().commit_sha == release.commit_sha == "a" * 40
