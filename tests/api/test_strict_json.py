"""Write bodies are checked against their JSON types before DRF coerces anything, and the schema says which text
and which paging values are refused (found by R3's positive- and negative-data checks)."""

from __future__ import annotations

import re

import pytest

from incidents.api.schema import NO_NUL_PATTERN
from incidents.limits import YEAR_PATTERN
from incidents.models import Incident
from tests.api.conftest import payload

pytestmark = pytest.mark.django_db

INCIDENTS = "/api/v1/incidents/"


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"kind": "incident", "title": 0}, {"title": ["Must be a string."]}),
        ({"kind": "incident", "title": "Slow", "started_at": 1700000000}, {"started_at": ["Must be a string."]}),
        ({"kind": 1, "title": "Slow"}, {"kind": ["Must be a string."]}),
        ({"kind": "incident", "title": "Slow", "services": "checkout"}, {"services": ["Must be a list."]}),
        (
            {"kind": "incident", "title": "Slow", "timeline": [{"at": "2026-11-20T10:00:00Z", "text": 5}]},
            {"timeline": {"0": {"text": ["Must be a string."]}}},
        ),
    ],
)
def test_a_value_of_the_wrong_json_type_is_a_400_naming_it_and_nothing_is_saved(writer, body, errors):
    response = writer.post(INCIDENTS, body)
    assert response.status_code == 400
    assert response.json() == errors
    assert not Incident.objects.exists()


def test_a_body_that_is_not_an_object_is_a_400_not_a_server_error(writer):
    writer.client.raise_request_exception = False
    response = writer.post(INCIDENTS, [None, None])
    assert response.status_code == 400
    assert "non_field_errors" in response.json()
    assert writer.post("/api/v1/hooks/alertmanager/", [None, None]).status_code == 400


def test_an_alert_fingerprint_must_be_text(writer):
    body = payload("alertmanager_firing.json")
    body["alerts"][0]["fingerprint"] = 0
    response = writer.post("/api/v1/hooks/alertmanager/", body)
    assert response.status_code == 400
    assert response.json() == {"alerts": {"0": {"fingerprint": ["Must be a string."]}}}


def test_the_schema_refuses_nul_in_free_text_and_bounds_the_page_size(schema):
    create = schema["components"]["schemas"]["IncidentCreateRequest"]["properties"]
    # A title is one line: no NUL, nor any other control character (incidents/limits.py).
    assert re.fullmatch(create["title"]["pattern"], "Checkout down")
    assert not any(re.search(create["title"]["pattern"], f"a{char}b") for char in "\x00\r\n\t\u2028")
    assert create["started_at"]["pattern"] == YEAR_PATTERN  # a date-time has its format and its years
    assert create["summary"]["pattern"] == NO_NUL_PATTERN and create["summary"]["maxLength"] == 20000
    assert create["services"]["maxItems"] == create["causes"]["maxItems"] == 50
    parameters = {p["name"]: p for p in schema["paths"]["/api/v1/incidents/"]["get"]["parameters"]}
    assert parameters["q"]["schema"]["pattern"] == NO_NUL_PATTERN
    assert parameters["page_size"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 200}
    assert parameters["q"]["allowEmptyValue"] is True and "allowEmptyValue" not in parameters["page"]
    assert parameters["team"]["schema"]["items"]["pattern"] == r"^[-a-zA-Z0-9_]{0,100}$"  # `?team=` is no team


def test_an_empty_name_is_refused_rather_than_read_as_none(writer):
    response = writer.post(INCIDENTS, {"kind": "incident", "title": "Slow", "environment": ""})
    assert response.status_code == 400
    assert list(response.json()) == ["environment"]
    assert writer.post(INCIDENTS, {"kind": "incident", "title": "Slow", "environment": None}).status_code == 201


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ({"ordering": "name,-slug"}, 200),
        ({"ordering": ""}, 200),
        ({"ordering": "-name"}, 200),
        ({"ordering": "bogus"}, 400),
        ({"ordering": ["name", "slug"]}, 400),
        ({"page": "1"}, 200),
        ({"page": ""}, 400),
        ({"page": "last"}, 400),
        ({"page": "0"}, 400),
        ({"page": "9"}, 404),
    ],
)
def test_reference_lists_take_only_the_orderings_and_pages_they_document(reader, query, status):
    response = reader.get("/api/v1/teams/", query)
    assert response.status_code == status, response.content
    if status == 400:
        assert list(response.json()) == list(query)


def test_the_schema_documents_versions_only_where_updates_carry_them(schema):
    incident_update = {p["name"] for p in schema["paths"]["/api/v1/incidents/{reference}/"]["patch"]["parameters"]}
    action_item_update = schema["paths"]["/api/v1/action-items/{id}/"]["patch"]
    assert "If-Match" in incident_update
    assert "If-Match" not in {p["name"] for p in action_item_update["parameters"]}
    assert "428" not in action_item_update["responses"]
    ordering = {p["name"]: p for p in schema["paths"]["/api/v1/incidents/"]["get"]["parameters"]}["ordering"]
    assert "" in ordering["schema"]["items"]["enum"]  # `?ordering=` orders by the default


def test_an_empty_ordering_keeps_the_default_order(reader, team):
    from tests.factories import IncidentFactory

    first, second = IncidentFactory(team=team), IncidentFactory(team=team)
    for ordering in ("", ","):
        body = reader.get(INCIDENTS, {"ordering": ordering}).json()
        assert [row["reference"] for row in body["results"]] == [second.reference, first.reference], ordering


@pytest.mark.parametrize("url", ["/api/v1/teams/", INCIDENTS])
def test_a_page_number_past_any_list_is_a_404_not_a_server_error(reader, url):
    for page in ("86795194554921747931295907840", "7678241052439222272", "20001"):
        assert reader.get(url, {"page": page}).status_code == 404, page


def test_the_web_list_shows_its_last_page_for_a_page_number_past_it(client, reporter):
    client.force_login(reporter)
    response = client.get("/incidents/", {"page": "7678241052439222272"})
    assert response.status_code == 200
