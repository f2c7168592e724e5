"""The API's docs: each operation says what it does, its examples are valid and accepted, the browsable API's
breadcrumbs name real pages. Read through /api/schema/ and the pages, as a client and a person would."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest
from django.contrib.auth.models import User
from django.urls import path as route
from drf_spectacular.generators import SchemaGenerator
from jsonschema import Draft202012Validator
from rest_framework import generics
from rest_framework.test import APIClient

from incidents.api.receivers import RECEIVERS
from incidents.api.serializers import TeamSerializer
from incidents.api.views import ApiViewMixin
from incidents.models import Hook, Membership, Team
from incidents.tokens import github_signature
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

WRITES = {
    ("post", "/api/v1/incidents/"),
    ("patch", "/api/v1/incidents/{reference}/"),
    ("post", "/api/v1/action-items/"),
    ("patch", "/api/v1/action-items/{id}/"),
    ("post", "/api/v1/releases/"),
    ("post", "/api/v1/deployments/"),
    ("post", "/api/v1/hooks/alertmanager/"),
    ("post", "/api/v1/hooks/github/"),
    ("put", "/api/v1/teams/{slug}/chat/{kind}/"),
}


@pytest.fixture
def served():
    """The schema as /api/schema/ serves it, in JSON."""
    response = APIClient().get("/api/schema/?format=json")
    assert response.status_code == 200
    return json.loads(response.content)


def operations(schema: dict):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield method, path, operation


def json_schema(node: object, components: dict) -> object:
    """An OpenAPI 3.0 schema as JSON Schema: references inlined, `nullable` as a type that allows null."""
    if isinstance(node, list):
        return [json_schema(item, components) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return json_schema(components[node["$ref"].rsplit("/", 1)[1]], components)
    converted = {}
    for key, value in node.items():
        if key in {"nullable", "example", "readOnly", "writeOnly", "format"}:
            continue
        if key == "properties":
            converted[key] = {name: json_schema(child, components) for name, child in value.items()}
        else:
            converted[key] = json_schema(value, components)
    return {"anyOf": [converted, {"type": "null"}]} if node.get("nullable") else converted


def examples_of(operation: dict):
    """(where, schema, example value) of each request and response example of an operation."""
    bodies = [("request", operation.get("requestBody", {}))]
    bodies += [(f"response {code}", response) for code, response in operation["responses"].items()]
    for where, body in bodies:
        media = body.get("content", {}).get("application/json", {})
        for name, example in media.get("examples", {}).items():
            yield f"{where} {name}", media["schema"], example["value"]


# --- What the schema says --------------------------------------------------------------------------------


def test_every_operation_has_a_summary_and_a_description_of_its_own(served):
    summaries, descriptions = {}, {}
    for method, path, operation in operations(served):
        assert operation.get("summary", "").strip(), (method, path)
        assert operation.get("description", "").strip(), (method, path)
        summaries.setdefault(operation["summary"], []).append((method, path))
        descriptions.setdefault(operation["description"], []).append((method, path))
    assert len(summaries) == len(descriptions) == sum(1 for _ in operations(served)) == 27 + len(RECEIVERS)
    assert [where for where in descriptions.values() if len(where) > 1] == []
    assert [where for where in summaries.values() if len(where) > 1] == []


def test_no_base_class_docstring_becomes_a_description(served):
    mixin_doc = ApiViewMixin.__doc__.split(":")[0]  # "Checks every request makes before anything else"
    for method, path, operation in operations(served):
        assert mixin_doc not in operation["description"], (method, path)
        assert "Who may call it" in operation["description"], (method, path)


def test_a_view_without_a_description_of_its_own_gets_none_from_its_bases():
    """The root of the fix: the schema reads only the docstring of the view class itself, not its mixins'."""

    class Undocumented(ApiViewMixin, generics.ListAPIView):
        serializer_class = TeamSerializer
        queryset = Team.objects.all()

    generated = SchemaGenerator(patterns=[route("api/v1/undocumented/", Undocumented.as_view())]).get_schema(
        public=True
    )
    assert generated["paths"]["/api/v1/undocumented/"]["get"].get("description", "") == ""
    assert ApiViewMixin.__doc__  # there is a docstring it could have inherited


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("get", "/api/v1/incidents/", "any API token (read or write scope)"),
        ("post", "/api/v1/incidents/", "an API token of the write scope"),
        ("patch", "/api/v1/action-items/{id}/", "an API token of the write scope"),
        ("post", "/api/v1/hooks/github/", "signing the body with a github hook's secret"),
    ],
)
def test_descriptions_say_who_may_call(served, method, path, scope):
    assert scope in served["paths"][path][method]["description"]


def test_write_operations_and_main_reads_have_request_and_response_examples(served):
    for method, path, operation in operations(served):
        found = [where for where, _, _ in examples_of(operation)]
        if (method, path) in WRITES:
            assert any(where.startswith("request") for where in found), (method, path)
        if path != "/api/v1/reports/{week}/" and method != "delete":  # a 204 has no body to show
            assert any(where.startswith("response 2") for where in found), (method, path)


def test_every_example_is_valid_against_its_schema(served):
    components = served["components"]["schemas"]
    checked = 0
    for method, path, operation in operations(served):
        for where, schema, value in examples_of(operation):
            errors = list(Draft202012Validator(json_schema(schema, components)).iter_errors(value))
            assert errors == [], (method, path, where, [error.message for error in errors])
            checked += 1
    assert checked >= 40


def test_examples_are_realistic(served):
    create = served["paths"]["/api/v1/incidents/"]["post"]["requestBody"]["content"]["application/json"]
    incident = create["examples"]["IncidentFromAPager"]["value"]
    assert incident["title"] == "Checkout latency doubled after 4.12 rollout"
    assert incident["services"] == ["checkout-api"]  # a service of the demo data (incidents/demo.py)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", incident["started_at"])


def test_error_bodies_have_examples_rather_than_text_made_from_patterns(served):
    components = served["components"]["schemas"]
    assert components["Error"]["example"] == {"detail": "No such incident."}
    assert list(components["ValidationError"]["example"]) == ["service"]


# --- The examples sent to the API ------------------------------------------------------------------------


def request_examples(schema: dict, method: str, path: str) -> list[dict]:
    media = schema["paths"][path][method]["requestBody"]["content"]["application/json"]
    return [example["value"] for example in media["examples"].values()]


def test_every_write_request_example_is_accepted(served, writer, team, service):
    """With the demo organisation's names (team payments, service checkout-api, user demo), each example is
    recorded as it says."""
    MembershipFactory(user=UserFactory(username="demo"), team=team, role=Membership.Role.MEMBER)
    statuses = {}
    for number, body in enumerate(request_examples(served, "post", "/api/v1/incidents/")):
        statuses[f"incident {number}"] = writer.post("/api/v1/incidents/", body).status_code
    pager_incident = request_examples(served, "post", "/api/v1/incidents/")[0]
    statuses["incident again"] = writer.post("/api/v1/incidents/", pager_incident).status_code
    (update,) = request_examples(served, "patch", "/api/v1/incidents/{reference}/")
    statuses["incident update"] = writer.patch("/api/v1/incidents/INC-1/", update).status_code
    (item,) = request_examples(served, "post", "/api/v1/action-items/")
    created = writer.post("/api/v1/action-items/", item)
    statuses["action item"] = created.status_code
    for number, body in enumerate(request_examples(served, "patch", "/api/v1/action-items/{id}/")):
        response = writer.patch(f"/api/v1/action-items/{created.json()['id']}/", body)
        statuses[f"action item update {number}"] = response.status_code
    (release,) = request_examples(served, "post", "/api/v1/releases/")
    statuses["release"] = writer.post("/api/v1/releases/", release).status_code
    (deployment,) = request_examples(served, "post", "/api/v1/deployments/")
    statuses["deployment"] = writer.post("/api/v1/deployments/", deployment).status_code
    for number, body in enumerate(request_examples(served, "post", "/api/v1/hooks/alertmanager/")):
        response = writer.post("/api/v1/hooks/alertmanager/", body)
        statuses[f"alert {number}"] = (response.status_code, len(response.json()["errors"]))
    assert statuses == {
        "incident 0": 201,
        "incident 1": 201,
        "incident again": 200,
        "incident update": 200,
        "action item": 201,
        "action item update 0": 200,
        "action item update 1": 200,
        "release": 201,
        "deployment": 201,
        "alert 0": (200, 0),
        "alert 1": (200, 0),
    }


def test_the_github_example_records_a_deployment(served, team, service):
    secret = "example-secret"
    Hook.objects.create(name="example-shop/checkout-api", team=team, service=service, secret=secret)
    (event,) = request_examples(served, "post", "/api/v1/hooks/github/")
    raw = json.dumps(event).encode()
    response = APIClient().post(
        "/api/v1/hooks/github/", raw, content_type="application/json", HTTP_X_GITHUB_EVENT="deployment_status",
        HTTP_X_HUB_SIGNATURE_256=github_signature(secret, raw), HTTP_X_GITHUB_DELIVERY="72d3162e-cc78-11e3-81ab",
    )  # fmt: skip
    assert response.status_code == 200, response.json()
    assert response.json()["detail"] == "Deployment recorded."


# --- The docs and the browsable API ----------------------------------------------------------------------


def test_the_docs_page_loads_the_schema():
    client = APIClient()
    assert client.get("/api/docs/").status_code == 200
    assert b'"/api/schema/"' in client.get("/api/docs/?script=").content


class Breadcrumbs(HTMLParser):
    """The text of each breadcrumb of a browsable API page (DRF's `ul.breadcrumb`)."""

    def __init__(self) -> None:
        super().__init__()
        self.depth, self.items = 0, []

    def handle_starttag(self, tag, attrs):
        if tag == "ul" and "breadcrumb" in (dict(attrs).get("class") or ""):
            self.depth = 1
        elif self.depth and tag == "ul":
            self.depth += 1
        elif self.depth and tag == "li":
            self.items.append("")

    def handle_endtag(self, tag):
        if self.depth and tag == "ul":
            self.depth -= 1

    def handle_data(self, data):
        if self.depth and self.items:
            self.items[-1] = " ".join(f"{self.items[-1]} {data}".split())


def breadcrumbs(user: User, url: str) -> list[str]:
    client = APIClient()
    client.force_login(user)
    response = client.get(url, HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    parser = Breadcrumbs()
    parser.feed(response.content.decode())
    return parser.items


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/api/v1/", ["Hindsight API v1"]),
        ("/api/v1/incidents/", ["Hindsight API v1", "Incident List"]),
        ("/api/v1/causes/missing-check/", ["Hindsight API v1", "Cause List", "Cause Instance"]),
        ("/api/v1/environments/?ordering=slug", ["Hindsight API v1", "Environment List"]),
    ],
)
def test_breadcrumbs_name_only_real_pages(reporter, url, expected):
    assert breadcrumbs(reporter, url) == expected


def test_the_api_root_lists_the_resources_and_the_docs(reporter):
    client = APIClient()
    client.force_login(reporter)
    links = client.get("/api/v1/").json()
    assert {"incidents", "action-items", "releases", "deployments", "services", "reports"} <= set(links)
    assert links["docs"].endswith("/api/docs/") and links["schema"].endswith("/api/schema/")
    page = client.get("/api/v1/", HTTP_ACCEPT="text/html").content.decode()
    assert "The resources of the Hindsight API" in page
