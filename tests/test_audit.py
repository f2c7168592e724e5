"""The audit trail: who changed what and when, for incidents, action items, causes, environments and tokens."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from incidents.audit import audit_trail
from incidents.models import ActionItem, ApiToken, AuditEntry, Cause, Environment, Hook, Incident
from incidents.services import api_token_create
from tests.api.conftest import Tool
from tests.factories import IncidentFactory

pytestmark = pytest.mark.django_db


def entries(obj) -> list[tuple[str, str, dict]]:
    return [(entry.actor_label, entry.action, entry.changes) for entry in audit_trail(obj)]


def test_web_edits_of_an_incident_name_the_person_and_the_change(client, reporter, team):
    incident = IncidentFactory(team=team, status=Incident.Status.DRAFT, title="Old title")
    client.force_login(reporter)
    data = {
        "expected_version": 1, "title": "New title", "severity": incident.severity,
        "environment": incident.environment_id, "caught_by": incident.caught_by,
        "started_at": timezone.localtime(incident.started_at).strftime("%Y-%m-%dT%H:%M"),
        "summary": incident.summary, "trigger": "", "body": incident.body,
    }  # fmt: skip
    assert client.post(reverse("incidents:incident_edit", args=[incident.reference]), data).status_code == 302
    client.post(
        reverse("incidents:incident_status", args=[incident.reference]),
        {"status": "in_review", "expected_version": 2, "anyway": "on"},  # past the completeness check
    )
    (status_change, edit) = entries(incident)[:2]
    assert edit == ("rita", "changed", {"title": ["Old title", "New title"]})
    assert status_change == ("rita", "changed", {"status": ["draft", "in_review"]})


def test_api_writes_name_the_token(team):
    token, raw = api_token_create(name="deploy pipeline", team=team, scope=ApiToken.Scope.WRITE)
    created = Tool(token, raw).post("/api/v1/incidents/", {"kind": "incident", "title": "Disk full"})
    assert created.status_code == 201
    incident = Incident.objects.get(title="Disk full")
    assert entries(incident) == [("token:deploy pipeline", "created", {"status": [None, "triage"]})]


def test_action_items_record_creation_and_closing(client, reporter, team):
    incident = IncidentFactory(team=team)
    client.force_login(reporter)
    client.post(reverse("incidents:action_item_add", args=[incident.reference]), {"action-title": "Add an alert"})
    item = ActionItem.objects.get()
    client.post(reverse("incidents:action_item_complete", args=[item.pk]), {"status": "done"})
    assert [(who, what) for who, what, _ in entries(item)] == [("rita", "closed"), ("rita", "created")]
    assert entries(item)[0][2] == {"status": ["open", "done"]}


def test_token_creation_and_revocation_are_audited(admin_client, team):
    call_command("create_api_token", "nightly job", "--team", team.slug, "--scope", "read", stdout=io.StringIO(),
                 stderr=io.StringIO())  # fmt: skip
    token = ApiToken.objects.get()
    admin_client.post("/admin/incidents/apitoken/", {"action": "revoke", "_selected_action": [token.pk]})
    assert [(who, what) for who, what, _ in entries(token)] == [
        ("ada", "revoked"), ("command:create_api_token", "created"),
    ]  # fmt: skip


def test_taxonomy_and_environment_changes_in_the_admin_are_audited_and_readable_per_object(admin_client):
    prod = Environment.objects.get(slug="prod")
    form = {"name": prod.name, "slug": "prod", "kind": prod.kind, "promotion_order": 30, "mandate": "Boring."}
    assert (
        admin_client.post(reverse("admin:incidents_environment_change", args=[prod.pk]), form).status_code == 302
    )
    cause = Cause.objects.get(slug="alert-fatigue")
    admin_client.post(
        reverse("admin:incidents_cause_changelist"), {"action": "deactivate", "_selected_action": [cause.pk]}
    )
    assert entries(prod)[0][:2] == ("ada", "changed") and entries(prod)[0][2]["mandate"][1] == "Boring."
    assert entries(cause) == [("ada", "retired", {"active": [True, False]})]
    history = admin_client.get(reverse("admin:incidents_environment_history", args=[prod.pk])).content.decode()
    assert 'id="audit-trail"' in history and "Boring." in history


def test_hook_secrets_are_never_written_to_the_trail(admin_client, team):
    hook = Hook.objects.create(name="acme/app", team=team, secret="first-secret-value-123", environment_map={})
    form = {"name": "acme/app", "team": team.pk, "secret": "second-secret-value-456", "environment_map": "{}",
            "active": "on"}  # fmt: skip
    assert admin_client.post(reverse("admin:incidents_hook_change", args=[hook.pk]), form).status_code == 302
    (entry,) = AuditEntry.objects.filter(object_id=str(hook.pk), action="changed")
    assert entry.changes == {"secret": ["(hidden)", "(changed)"]}
    assert "second-secret" not in str(entry.changes) and "first-secret" not in str(entry.changes)


def test_triage_promotion_records_the_new_number(client, reporter, team):
    posted = IncidentFactory(team=team, status="triage", source="alertmanager", external_id="fp-9", body="")
    old = posted.reference
    client.force_login(reporter)
    client.post(
        reverse("incidents:triage_act", args=[posted.reference]), {"action": "near_miss", "expected_version": 1}
    )
    posted.refresh_from_db()
    who, what, changes = entries(posted)[0]
    assert (who, what) == ("rita", "promoted")
    assert changes["reference"] == [old, posted.reference] and changes["status"] == ["triage", "draft"]


def test_entries_can_be_read_but_not_edited_in_the_admin(admin_client, team):
    api_token_create(name="reader", team=team, scope=ApiToken.Scope.READ)
    entry = AuditEntry.objects.get()
    page = admin_client.get(reverse("admin:incidents_auditentry_change", args=[entry.pk]))
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert admin_client.get(reverse("admin:incidents_auditentry_add")).status_code == 403
    delete = admin_client.post(reverse("admin:incidents_auditentry_delete", args=[entry.pk]), {"post": "yes"})
    assert delete.status_code == 403
    assert AuditEntry.objects.filter(pk=entry.pk).exists()
