"""JSON bodies up to API_MAX_BODY_BYTES; larger ones get 413."""

from __future__ import annotations

import io

from django.conf import settings
from rest_framework.parsers import JSONParser

from incidents.api.exceptions import PayloadTooLarge


def check_content_length(request) -> None:
    """Refuse a body announced as too large before reading any of it."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > settings.API_MAX_BODY_BYTES:
        raise PayloadTooLarge(f"The request body is larger than {settings.API_MAX_BODY_BYTES} bytes.")


class LimitedJSONParser(JSONParser):
    """Reads at most API_MAX_BODY_BYTES, so a body without a Content-Length cannot be larger either."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.API_MAX_BODY_BYTES
        body = stream.read(limit + 1) if stream is not None else b""
        if len(body) > limit:
            raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
        return super().parse(io.BytesIO(body), media_type, parser_context)
