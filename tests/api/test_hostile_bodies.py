"""Hostile bodies: JSON nested far past API_MAX_JSON_DEPTH is a 400 JSON error on every endpoint that reads a
body (incidents/api/urls.py), webhooks and the form-encoded GitHub event included, never an HTML 500."""

from __future__ import annotations

import io
from urllib.parse import urlencode

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from incidents.models import ActionItem, Deployment, Hook, Incident, Release
from incidents.tokens import github_signature
from tests.factories import ActionItemFactory, IncidentFactory

pytestmark = pytest.mark.django_db

SECRET = "a-long-enough-webhook-secret"


def nested(depth: int) -> str:
    """A title whose value is `depth` arrays deep: '{"title": [[[...]]]}'."""
    return '{"title": ' + "[" * depth + "]" * depth + "}"


@pytest.fixture
def item(team):
    return IncidentFactory(team=team)


@pytest.fixture
def action_item(item):
    return ActionItemFactory(incident=item)


def write_doors(item, action_item) -> list[tuple[str, str]]:
    """Every endpoint of incidents/api/urls.py that reads a JSON body, with its method."""
    return [
        ("post", "/api/v1/incidents/"),
        ("patch", f"/api/v1/incidents/{item.reference}/"),
        ("post", "/api/v1/action-items/"),
        ("patch", f"/api/v1/action-items/{action_item.pk}/"),
        ("post", "/api/v1/releases/"),
        ("post", "/api/v1/deployments/"),
        ("post", "/api/v1/hooks/alertmanager/"),
    ]


def assert_json_depth_error(response, *, limit: int = 32) -> None:
    assert response.status_code == 400, response.content[:200]
    assert response["Content-Type"].startswith("application/json")
    assert f"nested deeper than {limit}" in response.json()["detail"]


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_every_json_endpoint_refuses_deep_nesting_with_a_json_400(writer, item, action_item, depth):
    for method, url in write_doors(item, action_item):
        send = getattr(writer.client, method)
        response = send(url, nested(depth), content_type="application/json", HTTP_IF_MATCH=str(item.version))
        assert_json_depth_error(response)
    assert Incident.objects.count() == 1 and ActionItem.objects.count() == 1
    assert not Release.objects.exists()


def test_depth_limit_is_the_setting(writer, settings):
    settings.API_MAX_JSON_DEPTH = 5
    assert_json_depth_error(writer.client.post("/api/v1/incidents/", nested(6), content_type="application/json"),
                            limit=5)  # fmt: skip
    shallow = writer.post("/api/v1/incidents/", {"kind": "incident", "title": "Fine", "causes": []})
    assert shallow.status_code == 201


def test_brackets_inside_strings_do_not_count(writer):
    title = '[[[[{{{{\\"' * 20  # quotes and brackets inside the text, escaped quotes included
    response = writer.post("/api/v1/incidents/", {"kind": "incident", "title": title[:200]})
    assert response.status_code == 201, response.json()


@pytest.fixture
def hook(team, service):
    return Hook.objects.create(name="acme/checkout", team=team, service=service, secret=SECRET)


def github(raw: bytes, content_type: str):
    return APIClient().post(
        "/api/v1/hooks/github/", raw, content_type=content_type, HTTP_X_GITHUB_EVENT="deployment_status",
        HTTP_X_HUB_SIGNATURE_256=github_signature(SECRET, raw),
    )  # fmt: skip


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_github_event_nested_too_deep_is_a_json_400(hook, depth):
    assert_json_depth_error(github(nested(depth).encode(), "application/json"))
    form = urlencode({"payload": nested(depth)}).encode()
    assert_json_depth_error(github(form, "application/x-www-form-urlencoded"))
    assert not Deployment.objects.exists()


def test_form_encoded_github_event_with_many_fields_is_a_json_400(hook):
    response = github(b"&".join(b"f%d=1" % n for n in range(1000)), "application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")


@pytest.mark.parametrize("url", ["/api/v1/causes/", "/api/v1/teams/", "/api/v1/reports/"])
def test_read_only_resources_answer_deep_bodies_with_json_not_a_500(writer, url):
    response = writer.client.post(url, nested(100_000), content_type="application/json")
    assert response.status_code == 405
    assert response["Content-Type"].startswith("application/json")


def test_data_set_nested_too_deep_is_refused_with_a_clear_error(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(CommandError, match="nested too deeply"):
        call_command("import_dataset", str(deep), stdout=io.StringIO())


def test_alertmanager_alerts_nested_too_deep_is_a_json_400(writer):
    deep = '{"version": "4", "status": "firing", "alerts": ' + "[" * 500 + "]" * 500 + "}"
    response = writer.client.post("/api/v1/hooks/alertmanager/", deep, content_type="application/json")
    assert_json_depth_error(response)
