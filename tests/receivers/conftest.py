"""Senders for the receiver tests: a hook per source, and a client that delivers as that sender does."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client

from incidents.audit import acting_as
from incidents.models import Hook
from incidents.services import HookCreated, hook_create

PAYLOADS = Path(__file__).resolve().parents[1] / "payloads"


def vendored(source: str, name: str) -> dict[str, Any]:
    """One of the vendors' example bodies kept in tests/payloads/<source>/ (origin and licence in NOTICE.md)."""
    return json.loads((PAYLOADS / source / name).read_text())


def body_bytes(data: Any) -> bytes:
    return data if isinstance(data, bytes) else json.dumps(data).encode()


@pytest.fixture(autouse=True)
def _fresh_throttle_counts(settings):
    """Each test counts its writes from zero: a cache namespace of its own (also on a shared Redis)."""
    caches = {alias: dict(config) for alias, config in django_settings.CACHES.items()}
    for config in caches.values():
        config["KEY_PREFIX"] = f"test-{uuid.uuid4().hex}"
    settings.CACHES = caches


class Sender:
    """A sender delivering to its receiver: signed with the hook's secret, or with the hook's bearer token."""

    def __init__(self, created: HookCreated, sign: Callable[[str, bytes], dict[str, str]] | None = None) -> None:
        self.hook, self.secret = created.hook, created.secret
        self.url = f"/api/v1/hooks/{self.hook.source}/"
        self.sign = sign
        self.client = Client()

    def headers(self, body: bytes) -> dict[str, str]:
        if self.hook.signed:
            if self.sign is None:
                raise RuntimeError("a signed sender needs its signing function")
            return self.sign(self.secret, body)
        return {"Authorization": f"Bearer {self.secret}"}

    def post(self, data: Any, *, headers: dict[str, str] | None = None, content_type: str = "application/json"):
        body = body_bytes(data)
        return self.client.post(
            self.url, body, content_type=content_type, headers={**self.headers(body), **(headers or {})}
        )


@pytest.fixture
def make_hook(team) -> Callable[..., HookCreated]:
    def make(source: str, **fields: Any) -> HookCreated:
        with acting_as(label="test"):
            return hook_create(source=source, name=fields.pop("name", f"{source} hook"), team=fields.pop(
                "team", team), **fields)  # fmt: skip

    return make


def hook_of(sender: Sender) -> Hook:
    return Hook.objects.get(pk=sender.hook.pk)
