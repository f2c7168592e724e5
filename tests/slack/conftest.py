"""A local stand-in for Slack: its Web API (users.info, views.open) and a response_url receiver, on 127.0.0.1 in a
thread, recording every call; and requests signed as Slack signs them (payloads under tests/payloads/slack/)."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

PAYLOADS = Path(__file__).resolve().parent.parent / "payloads" / "slack"
SIGNING_SECRET = "fake-signing-secret-for-tests"
BOT_TOKEN = "xoxb-fake-token-for-tests"
SLACK_USER = "U2147483697"  # the user of the payloads


def payload(name: str) -> dict[str, Any]:
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))


@dataclass
class SlackStub:
    """What the stub answers (e-mails by Slack user id) and what it was asked."""

    url: str = ""
    emails: dict[str, str] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    replies: list[dict[str, Any]] = field(default_factory=list)
    views_open_error: str = ""
    reply_status: int = 200

    def called(self, method: str) -> list[dict[str, Any]]:
        return [arguments for name, arguments in self.calls if name == method]


def _handler(stub: SlackStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _users_info(self, arguments: dict[str, Any]) -> None:
            email = stub.emails.get(arguments.get("user", ""))
            if email is None:
                self._answer(200, {"ok": False, "error": "user_not_found"})
                return
            found = payload("users_info.json")
            found["user"]["id"] = arguments["user"]
            found["user"]["profile"]["email"] = email
            self._answer(200, found)

        def _arguments(self) -> dict[str, Any]:
            """The call's arguments: query string, form-encoded or JSON body."""
            parts = urlsplit(self.path)
            arguments = {name: values[0] for name, values in parse_qs(parts.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode() if length else ""
            if raw and "json" in (self.headers.get("Content-Type") or ""):
                arguments |= json.loads(raw)
            elif raw:
                arguments |= {name: values[0] for name, values in parse_qs(raw).items()}
            return arguments

        def do_GET(self) -> None:
            self.do_POST()

        def do_POST(self) -> None:
            path, arguments = urlsplit(self.path).path, self._arguments()
            if path.startswith("/hooks/"):
                stub.replies.append(arguments)
                self._answer(stub.reply_status, {"ok": stub.reply_status == 200})
                return
            method = path.rsplit("/", 1)[-1]
            stub.calls.append((method, arguments | {"auth": self.headers["Authorization"]}))
            if method == "users.info":
                self._users_info(arguments)
            elif method == "views.open" and stub.views_open_error:
                self._answer(200, {"ok": False, "error": stub.views_open_error})
            elif method == "views.open":
                self._answer(200, {"ok": True, "view": {"id": "V0123ABC456"}})
            else:
                self._answer(404, {"ok": False, "error": "unknown_method"})

    return Handler


@pytest.fixture
def slack(settings):
    """The Slack app switched on against a local stub of Slack; yields the stub."""
    stub = SlackStub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(stub))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    stub.url = f"http://127.0.0.1:{server.server_address[1]}"
    settings.SLACK_SIGNING_SECRET = SIGNING_SECRET
    settings.SLACK_BOT_TOKEN = BOT_TOKEN
    settings.SLACK_API_URL = f"{stub.url}/api/"
    settings.SLACK_TEAM_ID = None
    settings.SLACK_RESPONSE_URL_HOSTS = ["127.0.0.1"]
    settings.SLACK_TIMEOUT_SECONDS = 2
    settings.SITE_URL = "https://hindsight.example"
    yield stub
    server.shutdown()
    server.server_close()


def signed(body: str, *, timestamp: int | None = None, secret: str = SIGNING_SECRET) -> dict[str, str]:
    """The headers Slack sends with `body`: its timestamp and the v0 signature."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"HTTP_X_SLACK_REQUEST_TIMESTAMP": str(timestamp), "HTTP_X_SLACK_SIGNATURE": f"v0={digest}"}


def post_signed(client, path: str, body: str, **headers: str):
    return client.post(path, body, content_type="application/x-www-form-urlencoded", **(signed(body) | headers))


def command_body(stub: SlackStub, **fields: str) -> str:
    """A /nearmiss slash command as Slack posts it, replying to the stub's response_url receiver."""
    data = payload("slash_command.json") | {"response_url": f"{stub.url}/hooks/commands/1234/5678"} | fields
    return urlencode(data)


def submission(values: dict[str, Any], *, private_metadata: str = "", view_id: str = "V0123ABC456") -> dict:
    """A view_submission of the near-miss modal with `values` (block id -> element state)."""
    data = copy.deepcopy(payload("view_submission.json"))
    data["view"]["id"] = view_id
    data["view"]["private_metadata"] = private_metadata
    data["view"]["state"]["values"] = {name: {"value": element} for name, element in values.items()}
    return data


def interaction_body(data: dict[str, Any]) -> str:
    return urlencode({"payload": json.dumps(data)})
