"""A local chat receiver: an HTTP server on 127.0.0.1 standing in for Slack's and Teams' incoming webhooks.

It records every request and checks each body against the message shape the service documents (Slack: Block
Kit blocks within Slack's limits, and a text fallback; Teams: a message with one Adaptive Card attachment). A
body of the wrong shape is answered 400, as the real services refuse it. Each path can be told to answer with
another status, after a delay (a timeout), or to redirect.
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

from incidents.models import ChatWebhook
from tests.api.conftest import other_writer, reader, writer  # noqa: F401 - the API tests' token personas

SLACK_BLOCK_TYPES = {"header", "section", "context", "actions", "divider"}
SLACK_MAX_BLOCKS = 50
ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"


def slack_problems(body: Any) -> list[str]:
    """What is wrong with a Slack incoming-webhook body, by Slack's Block Kit reference."""
    if not isinstance(body, dict) or not isinstance(body.get("text"), str) or not body["text"]:
        return ["a text fallback is required"]
    blocks = body.get("blocks")
    if not isinstance(blocks, list) or not 1 <= len(blocks) <= SLACK_MAX_BLOCKS:
        return ["blocks: 1 to 50"]
    problems = []
    for block in blocks:
        kind = block.get("type")
        if kind not in SLACK_BLOCK_TYPES:
            problems.append(f"unknown block {kind}")
        elif kind == "header":
            text = block["text"]
            if text["type"] != "plain_text" or not 1 <= len(text["text"]) <= 150:
                problems.append("header: plain_text of at most 150 characters")
        elif kind == "section":
            if "text" in block and not (block["text"]["type"] in {"mrkdwn", "plain_text"}
                                        and 1 <= len(block["text"]["text"]) <= 3000):  # fmt: skip
                problems.append("section text: at most 3000 characters")
            fields = block.get("fields", [])
            if len(fields) > 10 or any(len(item["text"]) > 2000 for item in fields):
                problems.append("section fields: at most 10, of 2000 characters")
            if "text" not in block and not fields:
                problems.append("section: text or fields")
        elif kind == "context":
            if not 1 <= len(block["elements"]) <= 10:
                problems.append("context: 1 to 10 elements")
        elif kind == "actions":
            for element in block["elements"]:
                if element["type"] != "button" or len(element["text"]["text"]) > 75 or len(element["url"]) > 3000:
                    problems.append("actions: buttons with a text of 75 and a url of 3000 characters")
    return problems


def _card_elements(elements: list[dict]) -> list[str]:
    problems = []
    for element in elements:
        kind = element.get("type")
        if kind == "RichTextBlock":
            if not all(run.get("type") == "TextRun" and isinstance(run.get("text"), str)
                       for run in element["inlines"]):  # fmt: skip
                problems.append("RichTextBlock: inlines are TextRuns")
        elif kind == "TextBlock":
            if not isinstance(element.get("text"), str):
                problems.append("TextBlock: text")
        elif kind == "FactSet":
            if not all({"title", "value"} <= set(fact) for fact in element["facts"]):
                problems.append("FactSet: facts of title and value")
        else:
            problems.append(f"unexpected element {kind}")
    return problems


def teams_problems(body: Any) -> list[str]:
    """What is wrong with a Teams incoming-webhook (Workflows) body: a message with an Adaptive Card."""
    if not isinstance(body, dict) or body.get("type") != "message":
        return ['type must be "message"']
    attachments = body.get("attachments")
    if not isinstance(attachments, list) or len(attachments) != 1:
        return ["one attachment"]
    attachment = attachments[0]
    if attachment.get("contentType") != ADAPTIVE_CARD:
        return [f"contentType must be {ADAPTIVE_CARD}"]
    card = attachment.get("content", {})
    if card.get("type") != "AdaptiveCard" or card.get("version") not in {"1.2", "1.3", "1.4", "1.5"}:
        return ["content: an AdaptiveCard of version 1.2 to 1.5"]
    problems = _card_elements(card.get("body", []))
    for action in card.get("actions", []):
        if action.get("type") != "Action.OpenUrl" or not action.get("url", "").startswith(("http://", "https://")):
            problems.append("actions: Action.OpenUrl with a url")
    if len(json.dumps(body).encode()) > 28_000:
        problems.append("over Teams' 28 KB")
    return problems


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any
    problems: list[str]


@dataclass
class Receiver:
    base: str
    requests: list[Received] = field(default_factory=list)
    answers: dict[str, tuple[int, str, float]] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def answer(self, path: str, status: int, body: str = "", *, delay: float = 0.0) -> None:
        self.answers[path] = (status, body, delay)

    def bodies(self, path: str) -> list[Any]:
        return [request.body for request in self.requests if request.path == path]


class _Handler(BaseHTTPRequestHandler):
    receiver: Receiver

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        check = slack_problems if self.path.startswith("/slack") else teams_problems
        problems = check(body)
        self.receiver.requests.append(Received(self.path, dict(self.headers), body, problems))
        status, answer, delay = self.receiver.answers.get(
            self.path, (200, "ok" if "slack" in self.path else "1", 0)
        )
        if problems:
            status, answer = 400, "invalid_blocks"
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
def receiver(settings, monkeypatch):
    """The local receiver, allowed as a Slack and a Teams host, with a tiny timeout (and reached directly, not
    through a proxy the environment may name)."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    recorded = Receiver(base=f"http://127.0.0.1:{server.server_address[1]}")
    _Handler.receiver = recorded
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    settings.CHAT_SLACK_WEBHOOK_HOSTS = ["127.0.0.1"]
    settings.CHAT_TEAMS_WEBHOOK_HOSTS = ["127.0.0.1"]
    settings.CHAT_WEBHOOK_ALLOW_HTTP = True
    settings.CHAT_WEBHOOK_TIMEOUT = 0.2
    settings.SITE_URL = "https://hindsight.example.com"
    yield recorded
    server.shutdown()
    server.server_close()


@pytest.fixture
def slack_hook(team, receiver) -> ChatWebhook:
    return ChatWebhook.objects.create(team=team, kind="slack", url=receiver.url("/slack/T000/B000/secretSLCK"))


@pytest.fixture
def teams_hook(team, receiver) -> ChatWebhook:
    return ChatWebhook.objects.create(team=team, kind="teams", url=receiver.url("/teams/workflows/secretTEAM"))
