"""Confidential near-misses are numbered apart (CNM-n), action items take random ids, and the audit trail never
names a confidential reporter: through the web form, the API, the admin and the purge."""

from __future__ import annotations

import datetime as dt
import importlib
import json

import pytest
from django.apps import apps
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from incidents.models import (
    ACTION_ITEM_ID_LIMIT,
    ActionItem,
    AuditEntry,
    ConfidentialReporter,
    IdempotencyRecord,
    Incident,
    IncidentCounter,
    IncidentRevision,
    OutboxMessage,
)
from incidents.policies import Viewer
from incidents.services import (
    action_item_create,
    confidential_reporters_purge,
    incident_notify_leads,
    incident_update,
    near_miss_report,
    timeline_entry_add,
)
from tests.api.conftest import Tool
from tests.factories import IncidentFactory, NearMissFactory, UserFactory, cause

pytestmark = pytest.mark.django_db
ADMIN = Viewer(user_id=None, team_ids=frozenset(), lead_team_ids=frozenset(), is_admin=True)  # for direct writes
NEAR_MISS_FORM = reverse("incidents:near_miss_create")
migration = importlib.import_module("incidents.migrations.0011_confidential_numbers")


def file_near_miss(reporter, team, staging, *, confidential: bool, title: str = "Almost dropped a table"):
    return near_miss_report(
        reporter=reporter, team=team, title=title, summary="Caught in review.", environment=staging,
        caught_by=Incident.CaughtBy.CODE_REVIEW, causes=[cause("missing-check")], confidential=confidential,
    ).incident  # fmt: skip


def web_form(team, staging, **overrides) -> dict:
    return {
        "title": "Token nearly pushed to a public repository",
        "summary": "A pre-commit hook stopped it.",
        "environment": staging.pk,
        "caught_by": "automated_check",
        "causes": [cause("secret-handling").pk],
        "team": team.pk,
        **overrides,
    }


# --- Numbering ------------------------------------------------------------------------------------------


def test_confidential_near_misses_take_cnm_numbers_and_leave_no_gap_in_nm(reporter, team, staging):
    first = file_near_miss(reporter, team, staging, confidential=False)
    secret = file_near_miss(reporter, team, staging, confidential=True)
    second = file_near_miss(reporter, team, staging, confidential=False)
    assert [first.reference, secret.reference, second.reference] == ["NM-1", "CNM-1", "NM-2"]


def test_the_filed_page_the_receipt_and_the_leads_mail_use_the_cnm_reference(
    client, reporter, lead, team, staging
):
    client.force_login(reporter)
    response = client.post(NEAR_MISS_FORM, web_form(team, staging, confidential="on"))
    assert response["Location"] == reverse("incidents:near_miss_filed", args=["CNM-1"])
    filed = client.get(response["Location"]).content.decode()
    assert "CNM-1" in filed
    receipt_url = filed.split('href="/receipts/', 1)[1].split('"', 1)[0]
    assert "CNM-1" in client.get(f"/receipts/{receipt_url}").content.decode()
    incident = Incident.objects.get()
    assert incident_notify_leads(incident_id=incident.pk) == 1
    assert "CNM-1" in mail.outbox[0].subject and "/incidents/CNM-1/" in mail.outbox[0].body


def test_a_lead_finds_a_cnm_by_reference_on_the_web_and_the_api_and_others_get_a_404(
    client, reporter, lead, team, staging
):
    secret = file_near_miss(reporter, team, staging, confidential=True, title="Almost leaked the customer list")
    file_near_miss(reporter, team, staging, confidential=False, title="Open near-miss")
    client.force_login(lead)
    assert client.get("/incidents/CNM-1/").status_code == 200
    assert client.get("/incidents/cnm-1/").status_code == 200
    listed = client.get("/incidents/", {"q": "CNM-1"}).content.decode()
    assert secret.title in listed and "Open near-miss" not in listed
    assert client.get("/api/v1/incidents/CNM-1/").json()["reference"] == "CNM-1"
    assert [row["reference"] for row in client.get("/api/v1/incidents/", {"q": "CNM-1"}).json()["results"]] == [
        "CNM-1"
    ]
    client.force_login(reporter)  # a plain member of the team (here the reporter, who sees it)...
    assert client.get("/incidents/CNM-1/").status_code == 200
    member = UserFactory(username="mia")
    team.memberships.create(user=member, role="member")
    client.force_login(member)  # ...but not another plain member
    assert client.get("/incidents/CNM-1/").status_code == 404
    assert secret.title not in client.get("/incidents/", {"q": "CNM-1"}).content.decode()
    assert client.get("/api/v1/incidents/CNM-1/").status_code == 404


def test_a_token_cannot_add_an_action_item_to_a_cnm_and_a_malformed_reference_is_a_400(reporter, team, staging):
    from incidents.models import ApiToken
    from incidents.services import api_token_create

    file_near_miss(reporter, team, staging, confidential=True)
    tool = Tool(*api_token_create(name="pipeline", team=team, scope=ApiToken.Scope.WRITE))
    hidden = tool.post("/api/v1/action-items/", {"incident": "CNM-1", "title": "Rotate the key"})
    unknown = tool.post("/api/v1/action-items/", {"incident": "CNM-99", "title": "Rotate the key"})
    assert hidden.status_code == unknown.status_code == 400
    assert hidden.json() == unknown.json()
    assert "incident" in tool.post("/api/v1/action-items/", {"incident": "XNM-1", "title": "x"}).json()


def test_an_open_near_miss_cannot_be_made_confidential(reporter, team, staging):
    incident = file_near_miss(reporter, team, staging, confidential=False)
    with pytest.raises(Exception) as raised:
        incident_update(
            actor=ADMIN, incident=incident, expected_version=incident.version, changes={"confidential": True}
        )
    assert "confidential" in raised.value.message_dict
    incident.refresh_from_db()
    assert incident.reference == "NM-1" and not incident.confidential


def test_opening_a_confidential_near_miss_gives_it_the_next_nm_number(reporter, team, staging):
    file_near_miss(reporter, team, staging, confidential=False)
    secret = file_near_miss(reporter, team, staging, confidential=True)
    opened = incident_update(
        actor=ADMIN, incident=secret, expected_version=secret.version, changes={"confidential": False}
    ).obj
    opened.refresh_from_db()
    assert opened.reference == "NM-2"
    assert AuditEntry.objects.filter(object_id=str(opened.pk), action="changed").get().changes["reference"] == [
        "CNM-1",
        "NM-2",
    ]
    assert file_near_miss(reporter, team, staging, confidential=True).reference == "CNM-2"


def test_the_migration_moves_old_confidential_near_misses_to_cnm_in_their_number_order(team):
    def old_style(number: int, *, confidential: bool) -> Incident:
        return NearMissFactory(team=team, number=number, confidential=confidential)

    a, b, c = old_style(2, confidential=True), old_style(1, confidential=False), old_style(5, confidential=True)
    old_style(3, confidential=False)
    migration.renumber_confidential(apps, None)
    for item in (a, b, c):
        item.refresh_from_db()
    assert [a.reference, b.reference, c.reference] == ["CNM-1", "NM-1", "CNM-2"]
    assert IncidentCounter.objects.get(kind=Incident.CONFIDENTIAL_SEQUENCE).last_number == 2


# --- Random action item ids -----------------------------------------------------------------------------


def test_new_action_items_get_random_ids_that_the_pages_and_the_api_accept(client, reporter, team, staging):
    incident = IncidentFactory(team=team)
    items = [action_item_create(actor=ADMIN, incident=incident, title=f"Step {n}").obj for n in range(5)]
    ids = [item.pk for item in items]
    assert all(1 <= pk <= ACTION_ITEM_ID_LIMIT for pk in ids)
    assert sorted(ids) != list(range(min(ids), min(ids) + 5))  # not a sequence
    client.force_login(reporter)
    big = max(items, key=lambda item: item.pk)
    closed = client.post(reverse("incidents:action_item_complete", args=[big.pk]), {"status": "done"})
    assert closed.status_code == 302
    big.refresh_from_db()
    assert big.status == ActionItem.Status.DONE
    listed = client.get("/api/v1/action-items/").json()["results"]
    assert {row["id"] for row in listed} == set(ids)
    assert client.get(f"/api/v1/action-items/{big.pk}/").json()["id"] == big.pk
    assert client.get("/api/v1/action-items/99999999999999999999999/").status_code == 404
    assert client.post("/action-items/99999999999999999999/complete/", {"status": "done"}).status_code == 404
    # The longest id a URL takes is a clean 404 also where the column is a 32-bit integer.
    assert client.get(f"/incidents/{incident.reference}/history/9999999999999999/").status_code == 404
    assert client.get("/releases/9999999999999999/").status_code == 404


# --- The audit trail and the purge ----------------------------------------------------------------------


def test_a_confidential_filing_names_nobody_in_the_trail_the_outbox_or_the_revisions(
    client, reporter, team, staging
):
    client.force_login(reporter)
    client.post(NEAR_MISS_FORM, web_form(team, staging, confidential="on"))
    incident = Incident.objects.get()
    filed = AuditEntry.objects.get(object_id=str(incident.pk), action="created")
    assert (filed.actor, filed.actor_label) == (None, "confidential reporter")
    assert not AuditEntry.objects.filter(actor=reporter).exists()
    assert not AuditEntry.objects.filter(actor_label="rita").exists()
    payloads = json.dumps(list(OutboxMessage.objects.values_list("payload", flat=True)))
    assert "rita" not in payloads and str(reporter.pk) not in payloads.replace(str(incident.pk), "")
    assert not IdempotencyRecord.objects.exists()
    assert not IncidentRevision.objects.filter(author=reporter).exists()


def test_a_tool_asking_for_a_confidential_near_miss_files_an_open_one(team):
    from incidents.models import ApiToken
    from incidents.services import api_token_create

    tool = Tool(*api_token_create(name="pipeline", team=team, scope=ApiToken.Scope.WRITE))
    response = tool.post("/api/v1/incidents/", {"kind": "near_miss", "title": "x", "confidential": True})
    assert response.status_code == 201
    assert (response.json()["reference"], response.json()["confidential"]) == ("NM-1", False)


def _old_trail_naming(reporter, incident: Incident) -> None:
    """What the trail of a confidential item held before filings were audited anonymously."""
    incident_type = ContentType.objects.get_for_model(Incident)
    AuditEntry.objects.create(
        actor=reporter, actor_label=reporter.username, action="created", content_type=incident_type,
        object_id=str(incident.pk), object_repr=str(incident), changes={"status": [None, "published"]},
    )  # fmt: skip
    item = ActionItem.objects.filter(incident=incident).first()
    AuditEntry.objects.create(
        actor=reporter, actor_label=reporter.username, action="created",
        content_type=ContentType.objects.get_for_model(ActionItem), object_id=str(item.pk), object_repr=item.title,
    )  # fmt: skip
    # The first revision as it was kept before confidential filings kept no author.
    IncidentRevision.objects.update_or_create(
        incident=incident, version=1, defaults={"author": reporter, "title": incident.title, "status": "published"}
    )


def test_the_purge_scrubs_old_trail_entries_once_and_the_admin_then_shows_no_reporter(
    client, reporter, team, staging, admin_user, settings
):
    secret = file_near_miss(reporter, team, staging, confidential=True)
    action_item_create(actor=ADMIN, incident=secret, title="Add a pre-commit hook")
    _old_trail_naming(reporter, secret)
    timeline_entry_add(actor=ADMIN, incident=secret, at=secret.started_at, text="Hook fired.")
    due = timezone.now() + dt.timedelta(days=settings.CONFIDENTIAL_REPORTER_RETENTION_DAYS + 1)
    assert confidential_reporters_purge(now=due) == 1
    assert confidential_reporters_purge(now=due) == 0
    assert not AuditEntry.objects.filter(actor=reporter).exists()
    assert not AuditEntry.objects.filter(actor_label="rita").exists()
    assert not IncidentRevision.objects.filter(author=reporter).exists()
    assert ConfidentialReporter.objects.get().user is None
    client.force_login(admin_user)
    history = client.get(reverse("admin:incidents_incident_history", args=[secret.pk])).content.decode()
    assert "confidential reporter" in history and "rita" not in history
    assert "rita" not in client.get(reverse("admin:incidents_auditentry_changelist")).content.decode()
    assert "rita" not in client.get(reverse("incidents:incident_history", args=["CNM-1"])).content.decode()


def test_the_migration_scrubs_the_filing_entries_of_existing_confidential_items(reporter, team, staging):
    secret = file_near_miss(reporter, team, staging, confidential=True)
    action_item_create(actor=ADMIN, incident=secret, title="Add a pre-commit hook")
    AuditEntry.objects.all().delete()
    _old_trail_naming(reporter, secret)
    migration.scrub_confidential_reporters(apps, None)
    assert set(AuditEntry.objects.values_list("actor", "actor_label")) == {(None, "confidential reporter")}
    assert IncidentRevision.objects.get().author is None


# --- The admin ------------------------------------------------------------------------------------------


@pytest.fixture
def staff(team):
    """A staff lead who may view and change every incidents model, but is not a superuser."""
    user = UserFactory(username="stan", is_staff=True)
    team.memberships.create(user=user, role="lead")
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="incidents"))
    return user


ADMIN_LISTS = ["incident", "actionitem", "incidentcause", "timelineentry", "incidentrevision", "auditentry"]


def _admin_reads(client) -> dict[str, str]:
    pages = {}
    for model in ADMIN_LISTS:
        url = reverse(f"admin:incidents_{model}_changelist")
        for query in ("", "?_facets=True", "?q=leaked"):
            response = client.get(url + query)
            assert response.status_code == 200, (model, query)
            pages[model + query] = response.context["cl"].result_count, response.context["cl"].full_result_count
    return pages


def test_staff_who_are_not_superusers_neither_see_nor_count_confidential_items(
    client, staff, admin_user, reporter, team, staging
):
    public = file_near_miss(reporter, team, staging, confidential=False, title="Public leaked near-miss")
    action_item_create(actor=ADMIN, incident=public, title="Public step")
    client.force_login(staff)
    before = _admin_reads(client)
    secret = file_near_miss(reporter, team, staging, confidential=True, title="Secret leaked near-miss")
    item = action_item_create(actor=ADMIN, incident=secret, title="Secret step").obj
    timeline_entry_add(actor=ADMIN, incident=secret, at=secret.started_at, text="leaked")
    assert IncidentRevision.objects.filter(incident=secret).exists()  # its filing kept one
    assert _admin_reads(client) == before
    page = client.get(reverse("admin:incidents_incident_changelist")).content.decode()
    assert "CNM-1" not in page and "Secret" not in page and "By confidential" not in page
    assert client.get(reverse("admin:incidents_incident_change", args=[secret.pk])).status_code == 302
    assert client.get(reverse("admin:incidents_actionitem_change", args=[item.pk])).status_code == 302
    assert client.get(reverse("admin:incidents_confidentialreporter_changelist")).status_code == 403
    assert client.get(reverse("admin:incidents_cause_delete", args=[cause("missing-check").pk])).status_code == 403

    client.force_login(admin_user)
    page = client.get(reverse("admin:incidents_incident_changelist")).content.decode()
    assert "CNM-1" in page
    assert "Secret step" in client.get(reverse("admin:incidents_actionitem_changelist")).content.decode()


def test_in_the_admin_an_open_item_cannot_be_made_confidential(client, admin_user, reporter, team, staging):
    public = file_near_miss(reporter, team, staging, confidential=False)
    client.force_login(admin_user)
    form = client.get(reverse("admin:incidents_incident_change", args=[public.pk])).context["adminform"].form
    assert "confidential" not in form.fields


def test_a_superuser_opening_a_confidential_near_miss_in_the_admin_gives_it_the_next_nm_number(
    client, admin_user, reporter, team, staging
):
    from django.forms.models import model_to_dict

    file_near_miss(reporter, team, staging, confidential=False)
    secret = file_near_miss(reporter, team, staging, confidential=True)
    client.force_login(admin_user)
    url = reverse("admin:incidents_incident_change", args=[secret.pk])
    form = client.get(url).context["adminform"].form
    post = {key: value for key, value in model_to_dict(secret).items() if key in form.fields and value is not None}
    post.update(services=[], releases=[])
    post.pop("confidential")
    post["started_at_0"], post["started_at_1"] = (
        secret.started_at.strftime("%Y-%m-%d"),
        secret.started_at.strftime("%H:%M:%S"),
    )
    post.pop("started_at", None)
    for prefix in ("incident_causes", "timeline", "action_items"):
        post.update({f"{prefix}-TOTAL_FORMS": 0, f"{prefix}-INITIAL_FORMS": 0})
    post = {key: value for key, value in post.items() if value != ""}
    assert client.post(url, post).status_code == 302
    secret.refresh_from_db()
    assert (secret.reference, secret.confidential) == ("NM-2", False)
