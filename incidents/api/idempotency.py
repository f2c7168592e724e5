"""Safe retries: a create sent with an Idempotency-Key answers every retry with its first response."""

from __future__ import annotations

import json
from collections.abc import Callable

from django.db import transaction
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from incidents import services
from incidents.api.exceptions import Conflict, Unprocessable
from incidents.api.permissions import request_token
from incidents.models import IdempotencyRecord
from incidents.tokens import request_fingerprint

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"


def _key(request) -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > 255 or not key.isascii() or not key.isprintable():
        raise ValidationError({HEADER: ["Use 1 to 255 printable ASCII characters, e.g. a UUID."]})
    return key


def _fingerprint(request) -> str:
    data = request.data
    if hasattr(data, "lists"):  # a QueryDict
        data = dict(data.lists())
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return request_fingerprint(request.method, request.path, canonical)


def idempotent(request, handler: Callable[[], Response]) -> Response:
    """Run `handler` once per Idempotency-Key.

    1. Claim the key (a unique row per token and key).
    2. A key already claimed by the same request: 409 while that request runs, its response once done.
       The same key with another body: 422.
    3. Run the handler and keep its response for replays in one transaction; when anything raised, nothing of
       it is kept and the key is given back (so the client may fix its input and retry with the same key).
    """
    key, token = _key(request), request_token(request)
    if key is None or token is None:
        return handler()
    fingerprint = _fingerprint(request)
    record, claimed = services.idempotency_claim(token=token, key=key, fingerprint=fingerprint)
    if not claimed:
        if record.request_fingerprint != fingerprint:
            raise Unprocessable(f"This {HEADER} was already used for a different request.")
        if record.state == IdempotencyRecord.State.PROCESSING:
            raise Conflict(f"A request with this {HEADER} is still being processed; retry shortly.")
        return Response(record.response_body, status=record.response_status, headers={REPLAYED_HEADER: "true"})
    try:
        # The write and the record of its response commit together: if anything fails after the write (building
        # the response included), neither is kept, so a retry with the same key cannot make a second row.
        with transaction.atomic():
            response = handler()
            body = json.loads(JSONRenderer().render(response.data) or b"null")
            services.idempotency_finish(record=record, status=response.status_code, body=body)
    except BaseException:
        services.idempotency_release(record=record)
        raise
    return response
