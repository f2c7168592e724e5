"""The admin is usable by a lead: every model has a working list with filters and search, incidents show inlines."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from incidents.models import Cause, ConfidentialReporter
from tests.factories import (
    ActionItemFactory,
    DeploymentFactory,
    IncidentFactory,
    NearMissFactory,
    TimelineEntryFactory,
)

pytestmark = pytest.mark.django_db

MODELS = ["team", "membership", "service", "environment", "cause", "release", "deployment", "incident",
          "actionitem", "confidentialreporter", "trendreport", "incidentcause", "timelineentry"]  # fmt: skip


@pytest.fixture
def data(team, service, reporter):
    incident = IncidentFactory(team=team, causes=["weak-monitoring"], services=[service])
    TimelineEntryFactory(incident=incident, text="Pager went off")
    ActionItemFactory(incident=incident, title="Alert on error budget burn")
    DeploymentFactory()
    confidential = NearMissFactory(team=team, confidential=True)
    ConfidentialReporter.objects.create(incident=confidential, user=reporter, receipt_hash="x" * 64)
    return incident


@pytest.mark.parametrize("model", MODELS)
def test_every_model_has_a_changelist_with_search(client, admin_user, data, model):
    client.force_login(admin_user)
    response = client.get(reverse(f"admin:incidents_{model}_changelist"), {"q": "a"})
    assert response.status_code == 200
    assert b'id="searchbar"' in response.content or not admin.site._registry[_model(model)].search_fields


def _model(name):
    from django.apps import apps

    return apps.get_model("incidents", name)


def test_every_domain_model_is_registered():
    from django.apps import apps

    unregistered = {
        m.__name__ for m in apps.get_app_config("incidents").get_models() if m not in admin.site._registry
    }
    assert unregistered <= {"IncidentCounter"}


def test_incident_page_shows_causes_timeline_and_action_items_inline(client, admin_user, data):
    client.force_login(admin_user)
    response = client.get(reverse("admin:incidents_incident_change", args=[data.pk]))
    assert response.status_code == 200
    content = response.content.decode()
    assert "Pager went off" in content
    assert "Alert on error budget burn" in content
    assert 'name="incident_causes-0-cause"' in content


def test_incident_list_filters_by_status_and_environment(client, admin_user, data):
    client.force_login(admin_user)
    response = client.get(reverse("admin:incidents_incident_changelist"), {"status__exact": "triage"})
    assert data.title not in response.content.decode()
    response = client.get(
        reverse("admin:incidents_incident_changelist"), {"environment__id__exact": data.environment_id}
    )
    assert data.title in response.content.decode()


def test_a_used_cause_cannot_be_deleted_from_the_admin_but_can_be_retired(client, admin_user, data):
    client.force_login(admin_user)
    used = Cause.objects.get(slug="weak-monitoring")
    response = client.get(reverse("admin:incidents_cause_delete", args=[used.pk]))
    assert response.status_code == 403
    client.post(
        reverse("admin:incidents_cause_changelist"),
        {"action": "deactivate", "_selected_action": [used.pk]},
    )
    used.refresh_from_db()
    assert used.active is False


def test_staff_lead_without_superuser_cannot_see_confidential_reporters(client, lead):
    lead.is_staff = True
    lead.save()
    client.force_login(lead)
    response = client.get(reverse("admin:incidents_confidentialreporter_changelist"))
    assert response.status_code == 403


def test_admin_edit_renders_the_body_and_bumps_the_version(client, admin_user, data):
    from django.forms.models import model_to_dict

    client.force_login(admin_user)
    url = reverse("admin:incidents_incident_change", args=[data.pk])
    form = client.get(url).context["adminform"].form
    post = {key: value for key, value in model_to_dict(data).items() if key in form.fields and value is not None}
    post.update(body="## Impact\n\n<b>bold</b>", services=[s.pk for s in data.services.all()], releases=[])
    post["started_at_0"], post["started_at_1"] = (
        data.started_at.strftime("%Y-%m-%d"),
        data.started_at.strftime("%H:%M:%S"),
    )
    for prefix in ("incident_causes", "timeline", "action_items"):
        post.update({f"{prefix}-TOTAL_FORMS": 0, f"{prefix}-INITIAL_FORMS": 0})
    post.pop("started_at", None)
    post = {k: v for k, v in post.items() if v != ""}
    response = client.post(url, post)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    data.refresh_from_db()
    assert data.version == 2
    assert data.body_html == "<h2>Impact</h2>\n<p>&lt;b&gt;bold&lt;/b&gt;</p>"


def test_admin_search_finds_an_item_by_its_number(client, admin_user):
    incident = IncidentFactory(title="Queue stalled")
    near_miss = NearMissFactory(title="Queue nearly stalled")
    other = IncidentFactory(title="Unrelated")
    client.force_login(admin_user)
    url = reverse("admin:incidents_incident_changelist")

    def found(term: str) -> set[int]:
        response = client.get(url, {"q": term})
        assert response.status_code == 200
        return {row.pk for row in response.context["cl"].result_list}

    assert found(incident.reference) == {incident.pk}
    assert found(near_miss.reference.lower()) == {near_miss.pk}
    assert found(f"#{other.number}") == {
        row.pk for row in (incident, near_miss, other) if row.number == other.number
    }
    assert other.pk in found(str(other.number))
    assert found("INC-999999") == set()
