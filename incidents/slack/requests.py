"""Taking a request from Slack: the app is on, the body is within its limit, signed as Slack signs, and new.

Slack signs each request with the app's signing secret: X-Slack-Signature is `v0=` and the hex HMAC-SHA256 of
`v0:{X-Slack-Request-Timestamp}:{raw body}`, and a timestamp more than five minutes away is refused. Within the
window, a request already received (the same signature) is refused too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import wraps
from urllib.parse import parse_qs

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from slack_sdk.signature import SignatureVerifier

from incidents.services.slack import slack_request_claim

SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
TIMESTAMP = re.compile(r"[0-9]{1,12}")
MAX_FIELDS = 50  # Slack sends about twenty fields with a command, one (`payload`) with an interaction


def slack_enabled() -> bool:
    return bool(settings.SLACK_SIGNING_SECRET and settings.SLACK_BOT_TOKEN)


class Refused(Exception):
    """A request that is not taken: answered with `status` and a plain-text reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def _body(request: HttpRequest) -> bytes:
    limit = settings.SLACK_MAX_BODY_BYTES
    try:
        announced = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        announced = 0
    if announced > limit:
        raise Refused(413, f"The request body is larger than {limit} bytes.")
    body = request.read(limit + 1)
    if len(body) > limit:
        raise Refused(413, f"The request body is larger than {limit} bytes.")
    return body


def _verify(request: HttpRequest, body: bytes) -> str:
    """The request's signature, once checked; Refused (401) when it is missing, malformed, stale or wrong."""
    timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
    signature = request.headers.get("X-Slack-Signature", "")
    if not TIMESTAMP.fullmatch(timestamp) or not SIGNATURE.fullmatch(signature):
        raise Refused(
            401, "Sign the request as Slack does: X-Slack-Request-Timestamp and X-Slack-Signature (v0=)."
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "The request body is not UTF-8.") from None
    verifier = SignatureVerifier(str(settings.SLACK_SIGNING_SECRET))
    if not verifier.is_valid(body=text, timestamp=timestamp, signature=signature):
        raise Refused(401, "The signature is wrong, or the timestamp is more than five minutes away.")
    return signature


def form_fields(body: bytes) -> dict[str, str]:
    """The form-encoded body's fields, each once (the first value)."""
    try:
        fields = parse_qs(body.decode("utf-8"), max_num_fields=MAX_FIELDS, strict_parsing=False)
    except ValueError:
        raise Refused(400, "The form-encoded body has too many fields.") from None
    return {name: values[0] for name, values in fields.items()}


def slack_request(view: Callable[[HttpRequest, dict[str, str]], HttpResponse]):
    """Wrap a view of the Slack app: 404 while the app is off, POST only, then the body's limit, the signature
    and replays; the view gets the form fields of a request taken."""

    @csrf_exempt  # signed by Slack instead
    @wraps(view)
    def taking(request: HttpRequest) -> HttpResponse:
        if not slack_enabled():
            raise Http404("The Slack app is not configured.")
        if request.method != "POST":
            return HttpResponse(
                "Slack posts here.", status=405, content_type="text/plain", headers={"Allow": "POST"}
            )
        try:
            body = _body(request)
            signature = _verify(request, body)
            fields = form_fields(body)
            if not slack_request_claim(signature=signature, event=view.__name__):
                raise Refused(409, "This request was received before.")
        except Refused as refused:
            return HttpResponse(refused.reason, status=refused.status, content_type="text/plain")
        return view(request, fields)

    return taking
