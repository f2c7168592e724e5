"""Calls to Slack: its Web API (users.info, views.open) with the bot token, and replies to a response_url.

Every call has SLACK_TIMEOUT_SECONDS. A reply goes only to a response_url on SLACK_RESPONSE_URL_HOSTS over https
(plain http only to a loopback address), and what goes wrong is logged without the reply's text.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

log = logging.getLogger(__name__)
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class SlackUnavailable(Exception):
    """Slack did not answer a call, or answered it with an error."""


def _client() -> WebClient:
    # No retries: Slack waits three seconds for an answer, and a trigger_id expires in as many.
    return WebClient(
        base_url=settings.SLACK_API_URL, token=settings.SLACK_BOT_TOKEN, timeout=settings.SLACK_TIMEOUT_SECONDS,
        retry_handlers=[],
    )  # fmt: skip


def _call(method: str, **arguments: Any) -> dict[str, Any]:
    client = _client()
    try:
        call = client.users_info if method == "users.info" else client.views_open
        response = call(**arguments)
    except SlackApiError as error:
        log.warning("Slack %s answered %s", method, error.response.get("error", "an error"))
        raise SlackUnavailable(method) from None
    except (SlackClientError, OSError, ValueError) as error:  # unreachable, timed out, not JSON
        log.warning("Slack %s failed: %s", method, type(error).__name__)
        raise SlackUnavailable(method) from None
    data = response.data
    if not isinstance(data, dict):
        raise SlackUnavailable(method)
    return data


def slack_email(user_id: str) -> str:
    """The e-mail of a Slack user's profile (users.info, scope users:read.email); "" for a bot, a deactivated
    account or a profile without one."""
    user = _call("users.info", user=user_id).get("user")
    if not isinstance(user, dict) or user.get("deleted") or user.get("is_bot"):
        return ""
    email = (user.get("profile") or {}).get("email") if isinstance(user.get("profile"), dict) else ""
    return email.strip() if isinstance(email, str) and len(email) <= 254 else ""


def modal_open(*, trigger_id: str, view: dict[str, Any]) -> None:
    _call("views.open", trigger_id=trigger_id, view=view)


def reply_allowed(url: object) -> bool:
    """Whether `url` is a response_url a reply may be posted to."""
    if not isinstance(url, str) or len(url) > 500:
        return False
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return False
    if host not in settings.SLACK_RESPONSE_URL_HOSTS or parts.username or parts.password:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and host in LOOPBACK)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a reply goes to the allowed host or nowhere


def reply_post(url: str, *, text: str) -> bool:
    """Post an ephemeral reply to a response_url; best effort (False when it did not arrive). Posted with the
    standard library rather than slack_sdk's webhook client, which logs what it sends (a receipt code)."""
    host = urlsplit(url).hostname if isinstance(url, str) else None
    if not reply_allowed(url):
        log.warning("Slack reply not sent: the response_url is not on SLACK_RESPONSE_URL_HOSTS")
        return False
    body = json.dumps({"response_type": "ephemeral", "replace_original": False, "text": text}).encode()
    # reply_allowed admitted https (or http to loopback) only.
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")  # noqa: S310
    try:
        with urllib.request.build_opener(_NoRedirects).open(request, timeout=settings.SLACK_TIMEOUT_SECONDS):
            return True
    except urllib.error.HTTPError as error:
        log.warning("Slack reply to %s answered %s", host, error.code)
    except (OSError, ValueError) as error:
        log.warning("Slack reply to %s failed: %s", host, type(error).__name__)
    return False
