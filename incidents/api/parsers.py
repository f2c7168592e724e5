"""JSON bodies up to API_MAX_BODY_BYTES (larger ones get 413) and API_MAX_JSON_DEPTH levels of nesting (400).

Python's json module parses nested arrays and objects recursively: a body of a few thousand `[` would reach the
interpreter's recursion limit and end as a 500. The depth is therefore measured first, in linear time and
without recursion (incidents.limits.json_depth), and a body nested too deeply is refused before it is parsed.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from incidents.api.exceptions import PayloadTooLarge
from incidents.limits import json_depth


def check_json_depth(text: str) -> None:
    limit = settings.API_MAX_JSON_DEPTH
    if json_depth(text) > limit:
        raise ParseError(f"The JSON body is nested deeper than {limit} levels of arrays and objects.")


def check_body_size(body: bytes) -> None:
    limit = settings.API_MAX_BODY_BYTES
    if len(body) > limit:
        raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")


def json_loads_limited(body: bytes, *, encoding: str = "utf-8", what: str = "The body") -> Any:
    """Parse a JSON body within the size and depth limits; anything else is a ParseError (400)."""
    check_body_size(body)
    try:
        text = body.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        raise ParseError(f"{what} is not JSON encoded as {encoding}.") from None
    check_json_depth(text)
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except ValueError as error:
        raise ParseError(f"{what} is not valid JSON: {error}") from None
    except RecursionError:  # cannot happen within the depth limit; a 400 rather than a 500 all the same
        raise ParseError(f"{what} is nested too deeply.") from None


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def check_content_length(request) -> None:
    """Refuse a body announced as too large before reading any of it."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > settings.API_MAX_BODY_BYTES:
        raise PayloadTooLarge(f"The request body is larger than {settings.API_MAX_BODY_BYTES} bytes.")


class LimitedJSONParser(JSONParser):
    """Reads at most API_MAX_BODY_BYTES, so a body without a Content-Length cannot be larger either, and
    refuses a body nested deeper than API_MAX_JSON_DEPTH before parsing it."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.API_MAX_BODY_BYTES
        body = stream.read(limit + 1) if stream is not None else b""
        check_body_size(body)
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        return json_loads_limited(body, encoding=encoding, what="The request body")
