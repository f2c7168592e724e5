"""Every door refuses what is out of bounds with a clear error, and nothing is stored half-way.

Dates outside 1970-2100, control characters in single-line fields, text past its size and lists past their length
(incidents/limits.py, docs/limits.md), through the API, the web forms, the list filters and the commands.
"""

from __future__ import annotations

import datetime as dt
from io import StringIO
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from incidents.limits import LIST_MAX
from incidents.models import ActionItem, ApiToken, Deployment, Incident
from incidents.services import api_token_create
from tests.api.conftest import Tool
from tests.factories import IncidentFactory, ReleaseFactory, ServiceFactory, cause, environment
from tests.web.test_near_miss_form import form_data

pytestmark = pytest.mark.django_db
INCIDENTS = "/api/v1/incidents/"
OUT_OF_RANGE = ["0001-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "2101-01-01T00:00:00Z"]
CONTROL = ["Checkout\r\nBcc: someone@example.com", "tab\there", "nul\x00", "esc\x1b[31m", "sep\u2028line"]


@pytest.fixture
def writer(team) -> Tool:
    return Tool(*api_token_create(name="deploy pipeline", team=team, scope=ApiToken.Scope.WRITE))


@pytest.fixture
def login(client):
    def as_user(user):
        client.force_login(user)
        return client

    return as_user


@pytest.mark.parametrize("started_at", OUT_OF_RANGE)
def test_the_api_refuses_a_start_outside_the_accepted_years_and_stores_nothing(writer: Tool, started_at):
    response = writer.post(INCIDENTS, {"kind": "incident", "title": "Old", "started_at": started_at})
    assert response.status_code == 400
    assert list(response.json()) == ["started_at"]
    assert "1970" in response.json()["started_at"][0]
    assert not Incident.objects.exists()


@pytest.mark.parametrize("field", ["detected_at", "mitigated_at", "resolved_at"])
def test_every_time_of_an_incident_is_bounded(writer: Tool, field):
    body = {
        "kind": "incident",
        "title": "Late",
        "started_at": "2026-01-01T00:00:00Z",
        field: "2101-01-01T00:00:00Z",
    }
    response = writer.post(INCIDENTS, body)
    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_the_years_at_either_end_are_accepted(writer: Tool):
    first = writer.post(INCIDENTS, {"kind": "incident", "title": "First", "started_at": "1970-01-01T00:00:00Z"})
    last = writer.post(INCIDENTS, {"kind": "incident", "title": "Last", "started_at": "2100-12-31T23:59:00Z"})
    assert (first.status_code, last.status_code) == (201, 201)


def test_a_retry_with_the_same_idempotency_key_never_makes_a_second_row(writer: Tool):
    """If anything fails after the write (here: building the response), the write is not kept either."""
    body = {"kind": "incident", "title": "Retried", "environment": "prod", "services": []}
    headers = {"HTTP_IDEMPOTENCY_KEY": "retry-1"}
    failing = mock.patch("incidents.api.views.selectors.suspect_releases", side_effect=OverflowError("boom"))
    with failing, pytest.raises(OverflowError):
        writer.post(INCIDENTS, body, **headers)
    assert not Incident.objects.exists()
    first = writer.post(INCIDENTS, body, **headers)
    again = writer.post(INCIDENTS, body, **headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert Incident.objects.count() == 1


def test_an_item_stored_with_a_year_one_start_still_has_its_pages(writer: Tool, login, reporter, team):
    """Rows stored before dates were bounded: the detail page and the API answer, never a 500."""
    incident = IncidentFactory(team=team, environment=environment("prod"))
    Incident.objects.filter(pk=incident.pk).update(started_at=dt.datetime(1, 1, 1, tzinfo=dt.UTC))
    assert writer.get(f"{INCIDENTS}{incident.reference}/").status_code == 200
    page = login(reporter).get(reverse("incidents:incident_detail", args=[incident.reference]))
    assert page.status_code == 200


@pytest.mark.parametrize("title", CONTROL)
def test_the_api_refuses_control_characters_in_a_title(writer: Tool, title):
    response = writer.post(INCIDENTS, {"kind": "incident", "title": title})
    assert response.status_code == 400
    assert list(response.json()) == ["title"]
    assert not Incident.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("version", "1.0\nrc"),
        ("external_id", "run-1\r\nBcc"),
        ("artifact_digest", "sha256:ab\tcd"),
        ("commit", "ab\x00"),
    ],
)
def test_the_api_refuses_control_characters_in_deployment_identifiers(writer: Tool, service, field, value):
    body = {"service": service.slug, "version": "1.0", "environment": "prod", "status": "succeeded", field: value}
    response = writer.post("/api/v1/deployments/", body)
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert not Deployment.objects.exists()


def test_the_api_refuses_a_gate_name_with_a_line_break(writer: Tool, service):
    body = {"service": service.slug, "version": "1.0", "environment": "prod", "status": "succeeded",
            "gates": {"tests\nBcc": "passed"}}  # fmt: skip
    response = writer.post("/api/v1/deployments/", body)
    assert response.status_code == 400
    assert list(response.json()) == ["gates"]


def test_the_api_refuses_a_line_break_in_an_action_item_title(writer: Tool, team):
    incident = IncidentFactory(team=team)
    response = writer.post("/api/v1/action-items/", {"incident": incident.reference, "title": "Fix\r\nit"})
    assert response.status_code == 400
    assert list(response.json()) == ["title"]
    assert not ActionItem.objects.exists()


def test_a_list_past_its_limit_is_refused_before_any_lookup(writer: Tool, service, django_assert_max_num_queries):
    body = {"kind": "incident", "title": "Many", "services": [service.slug] * 50_000}
    with django_assert_max_num_queries(8):  # authentication, throttling: none per element
        response = writer.post(INCIDENTS, body)
    assert response.status_code == 400
    assert list(response.json()) == ["services"]
    assert str(LIST_MAX) in str(response.json())


def test_repeated_slugs_collapse_into_one_each(writer: Tool, team):
    services = [ServiceFactory(owner_team=team) for _ in range(3)]
    slugs = [service.slug for service in services] * 10
    response = writer.post(INCIDENTS, {"kind": "incident", "title": "Three services", "services": slugs})
    assert response.status_code == 201
    assert sorted(response.json()["services"]) == sorted(service.slug for service in services)


def test_unknown_slugs_are_all_named(writer: Tool, service):
    body = {"kind": "incident", "title": "Unknown", "services": [service.slug, "nope-1", "nope-2"]}
    response = writer.post(INCIDENTS, body)
    assert response.status_code == 400
    assert "nope-1" in response.json()["services"][0] and "nope-2" in response.json()["services"][0]


def test_releases_and_causes_are_found_in_one_query_each(writer: Tool, team):
    service = ServiceFactory(owner_team=team)
    releases = [ReleaseFactory(service=service, version=f"1.{n}") for n in range(20)]
    body = {
        "kind": "incident",
        "title": "Many references",
        "releases": [{"service": service.slug, "version": release.version} for release in releases] * 2,
        "causes": [{"cause": slug} for slug in ("missing-check", "weak-monitoring", "config-drift")],
    }
    baseline = {"kind": "incident", "title": "No references"}
    with CaptureQueriesContext(connection) as plain:
        assert writer.post(INCIDENTS, baseline).status_code == 201
    with CaptureQueriesContext(connection) as referenced:
        response = writer.post(INCIDENTS, body)
    assert response.status_code == 201
    assert len(response.json()["releases"]) == 20
    # 20 releases and 3 causes cost a fixed handful of queries more (lookups, inserts, the detail's prefetch).
    assert len(referenced) - len(plain) <= 12


def test_a_cause_list_past_its_limit_is_refused(writer: Tool):
    body = {"kind": "incident", "title": "Causes", "causes": [{"cause": "missing-check"}] * (LIST_MAX + 1)}
    response = writer.post(INCIDENTS, body)
    assert response.status_code == 400
    assert list(response.json()) == ["causes"]


# --- The web forms and the list filters ----------------------------------------------------------------


@pytest.mark.parametrize("title", CONTROL[:2])
def test_the_near_miss_form_refuses_a_title_with_control_characters(login, reporter, team, staging, title):
    response = login(reporter).post(reverse("incidents:near_miss_create"), form_data(team, staging, title=title))
    assert response.status_code == 400
    assert "one line of text" in response.content.decode()
    assert not Incident.objects.exists()


def test_the_near_miss_form_refuses_a_year_one_date(login, reporter, team, staging):
    data = form_data(team, staging, started_at="0001-01-01T00:00")
    response = login(reporter).post(reverse("incidents:near_miss_create"), data)
    assert response.status_code == 400
    assert "between the years 1970 and 2100" in response.content.decode()
    assert not Incident.objects.exists()


def test_the_postmortem_form_refuses_a_date_past_2100(login, reporter, team):
    data = {"title": "Future", "team": team.pk, "started_at": "2101-01-01T00:00", "body": ""}
    response = login(reporter).post(reverse("incidents:incident_create"), data)
    assert response.status_code in (200, 400)
    assert "between the years 1970 and 2100" in response.content.decode()
    assert not Incident.objects.exists()


def test_the_web_list_explains_a_filter_date_outside_the_years(login, reporter):
    response = login(reporter).get(reverse("incidents:incident_list"), {"started_from": "0001-01-01"})
    assert response.status_code in (200, 400)
    assert "between the years 1970 and 2100" in response.content.decode()


def test_a_text_past_its_size_is_a_form_error(login, reporter, team, staging):
    data = form_data(team, staging, summary="x" * 20_001)
    response = login(reporter).post(reverse("incidents:near_miss_create"), data)
    assert response.status_code == 400
    assert "at most 20000 characters" in response.content.decode()


# --- Report weeks --------------------------------------------------------------------------------------


def test_generate_report_refuses_a_week_outside_the_years():
    with pytest.raises(CommandError, match="between the years 1970 and 2100"):
        call_command("generate_report", week="0001-W01", stdout=StringIO())


def test_generate_now_refuses_a_week_outside_the_years(login, lead):
    response = login(lead).post(reverse("reports:report_generate"), {"week": "0001-W01", "scope": "organisation"})
    assert response.status_code == 400
    assert "between the years 1970 and 2100" in response.content.decode()


def test_the_model_refuses_what_the_forms_refuse(team):
    """The admin and the shell go through the same validators."""
    incident = IncidentFactory.build(team=team, title="a\nb", started_at=dt.datetime(1, 1, 1, tzinfo=dt.UTC))
    with pytest.raises(ValidationError) as raised:
        incident.full_clean(exclude=["number"])
    assert {"title", "started_at"} <= set(raised.value.message_dict)
    assert cause("missing-check").name  # the taxonomy is untouched


def test_limits_check_lists_stored_values_outside_the_limits(team):
    incident = IncidentFactory(team=team)
    assert "within the limits" in _limits_check()
    Incident.objects.filter(pk=incident.pk).update(
        title="two\nlines", started_at=dt.datetime(1, 1, 1, tzinfo=dt.UTC), summary="x" * 20_001
    )
    with pytest.raises(CommandError, match="3 stored value"):
        _limits_check()


def _limits_check() -> str:
    out = StringIO()
    call_command("limits_check", stdout=out)
    return out.getvalue()


@pytest.mark.parametrize("mark", ["\u202e", "\u202a", "\u2066", "\u2069"])
def test_a_title_with_a_bidirectional_override_is_refused_by_the_web_and_the_api(mark, client, reporter, team):
    """ "Invoice \u202efdp.exe" displays as "Invoice exe.pdf": single-line fields take no bidi controls."""
    title = f"Invoice {mark}fdp.exe"
    token, raw = api_token_create(name="t", team=team, scope=ApiToken.Scope.WRITE)
    answer = Tool(token, raw).post("/api/v1/incidents/", {"kind": "incident", "title": title})
    assert answer.status_code == 400 and "title" in answer.json()
    client.force_login(reporter)
    staging = environment("staging")
    page = client.post(reverse("incidents:near_miss_create"), form_data(team, staging, title=title))
    assert page.status_code == 400 and "title" in page.context["form"].errors
    assert not Incident.objects.exists()
