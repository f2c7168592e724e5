"""API personas: tools with read and write tokens for the payments team, and one for the platform team."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

from incidents.models import ApiToken
from incidents.services import api_token_create

PAYLOADS = Path(__file__).resolve().parents[1] / "payloads"


def payload(name: str) -> dict:
    """One of the real webhook bodies kept in tests/payloads (origin and licences in its NOTICE.md)."""
    return json.loads((PAYLOADS / name).read_text())


@pytest.fixture(autouse=True)
def _fresh_throttle_counts(settings):
    """Each test counts its writes from zero: a cache namespace of its own (also on a shared Redis)."""
    caches = {alias: dict(config) for alias, config in django_settings.CACHES.items()}
    for config in caches.values():
        config["KEY_PREFIX"] = f"test-{uuid.uuid4().hex}"
    settings.CACHES = caches


class Tool:
    """A tool calling the API with one token."""

    def __init__(self, token: ApiToken | None, raw: str | None) -> None:
        self.token, self.raw = token, raw
        self.client = APIClient()
        if raw:
            self.client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")

    def get(self, url: str, data=None, **extra):
        return self.client.get(url, data, **extra)

    def post(self, url: str, data=None, **extra):
        return self.client.post(url, data, format="json", **extra)

    def patch(self, url: str, data=None, **extra):
        return self.client.patch(url, data, format="json", **extra)


@pytest.fixture
def writer(team) -> Tool:
    return Tool(*api_token_create(name="deploy pipeline", team=team, scope=ApiToken.Scope.WRITE))


@pytest.fixture
def reader(team) -> Tool:
    return Tool(*api_token_create(name="dashboard", team=team, scope=ApiToken.Scope.READ))


@pytest.fixture
def other_writer(other_team) -> Tool:
    return Tool(*api_token_create(name="platform pipeline", team=other_team, scope=ApiToken.Scope.WRITE))


@pytest.fixture
def anonymous() -> Tool:
    return Tool(None, None)


@pytest.fixture(scope="module")
def schema():
    """The OpenAPI document as /api/schema/ serves it, checked against the OpenAPI specification."""
    generated = SchemaGenerator().get_schema(request=None, public=True)
    validate_schema(generated)  # raises on an invalid OpenAPI document
    return generated
