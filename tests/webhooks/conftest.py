"""A local subscriber: an HTTP server on 127.0.0.1 that checks every request as a receiver of Standard Webhooks
would, with the library's own `Webhook.verify` and the subscription's secret, and records it.

A request whose signature, id or timestamp does not verify is answered 401 (and recorded with the reason); each
path can be told to answer with another status, after a delay (a timeout), or to redirect. Tests run the outbox's
messages themselves (`deliver_all`), as a worker would, and move time with time-machine instead of sleeping.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from incidents.models import OutboxMessage, WebhookSubscription
from incidents.outbox import outbox_process
from incidents.policies import viewer_for_user
from incidents.services import webhooks as webhook_services
from tests.api.conftest import other_writer, reader, writer  # noqa: F401 - the API tests' token personas

HANDLERS = ("webhook_deliver", "webhook_disabled_mail")
READ_AT_MOST = 1_000_000


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    raw: bytes
    payload: Any  # what Webhook.verify returned: the parsed body, when it verified
    problem: str  # why it did not verify ("" when it did)

    @property
    def webhook_id(self) -> str:
        return self.headers.get("webhook-id", "")


@dataclass
class Receiver:
    base: str
    secrets: dict[str, str] = field(default_factory=dict)
    requests: list[Received] = field(default_factory=list)
    answers: dict[str, tuple[int, str, float]] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def answer(self, path: str, status: int, body: str = "", *, delay: float = 0.0) -> None:
        self.answers[path] = (status, body, delay)

    def at(self, path: str) -> list[Received]:
        return [request for request in self.requests if request.path == path]

    def payloads(self, path: str) -> list[Any]:
        """The verified payloads received at `path`, in order; any request that did not verify fails the test."""
        received = self.at(path)
        assert [request.problem for request in received] == [""] * len(received)
        return [request.payload for request in received]

    def types(self, path: str) -> list[str]:
        return [payload["type"] for payload in self.payloads(path)]


class _Handler(BaseHTTPRequestHandler):
    receiver: Receiver

    def do_POST(self) -> None:
        length = min(int(self.headers.get("Content-Length", 0)), READ_AT_MOST)
        raw = self.rfile.read(length)
        headers = {name.lower(): value for name, value in self.headers.items()}
        secret = self.receiver.secrets.get(self.path)
        payload, problem = None, "no secret known for this path"
        if secret is not None:
            try:
                payload, problem = Webhook(secret).verify(raw, headers), ""
            except (WebhookVerificationError, ValueError) as error:
                problem = str(error) or type(error).__name__
        self.receiver.requests.append(Received(self.path, headers, raw, payload, problem))
        status, answer, delay = self.receiver.answers.get(self.path, (204, "", 0.0))
        if problem:
            status, answer = 401, problem
        if delay:
            time.sleep(delay)
        self.send_response(status)
        if 300 <= status < 400:
            self.send_header("Location", self.receiver.url("/elsewhere"))
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(answer.encode())))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
            self.wfile.write(answer.encode())

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def receiver(settings):
    """The local subscriber, reachable because the tests allow http and the loopback network (production allows
    neither), with a short timeout."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    recorded = Receiver(base=f"http://127.0.0.1:{server.server_address[1]}")
    _Handler.receiver = recorded
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.WEBHOOK_TIMEOUT = 0.5
    settings.WEBHOOK_RETRY_SCHEDULE = [5, 300, 1800, 7200, 18000, 36000]
    settings.WEBHOOK_MAX_FAILURES = 5
    settings.SITE_URL = "https://hindsight.example.com"
    yield recorded
    server.shutdown()
    server.server_close()


@pytest.fixture
def subscribe(receiver):
    """subscribe(actor_user, team, path, **fields): a subscription made through the service, as the page makes
    it, whose secret the receiver verifies with."""

    def make(user, team, path: str, **fields) -> WebhookSubscription:
        subscription = webhook_services.webhook_subscription_create(
            actor=viewer_for_user(user), team=team, name=fields.pop("name", path.strip("/")),
            url=receiver.url(path), **fields,
        )  # fmt: skip
        receiver.secrets[path] = subscription.secret
        return subscription

    return make


def deliver_all(limit: int = 500) -> int:
    """Run the webhooks' outbox messages, oldest first, as a worker would, until none waits; returns how many."""
    for ran in range(limit):
        message = (
            OutboxMessage.objects.filter(processed_at__isnull=True, handler__in=HANDLERS).order_by("pk").first()
        )
        if message is None:
            return ran
        outbox_process(message_id=message.pk)
    raise AssertionError("the outbox never emptied")


def body_of(received: Received) -> dict:
    return json.loads(received.raw)
