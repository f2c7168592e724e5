"""The limits every door enforces: text sizes, single-line fields, list lengths and the range of dates.

One home for each limit, so the models (and through them the services, the admin and the shell), the web forms,
the API serializers and the OpenAPI schema all refuse the same input with the same message. docs/limits.md lists
them for people.
"""

from __future__ import annotations

import datetime as dt
import re
from itertools import accumulate

from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.utils.deconstruct import deconstructible

# --- Dates -------------------------------------------------------------------------------------------------
# Every date and time Hindsight stores or filters on lies in these years. Outside them arithmetic such as "24
# hours before it started" leaves Python's calendar (year 1), and no real incident happened there.
FIRST_YEAR, LAST_YEAR = 1970, 2100
EARLIEST = dt.datetime(FIRST_YEAR, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(LAST_YEAR + 1, 1, 1, tzinfo=dt.UTC)  # exclusive
DATE_RANGE_TEXT = f"between the years {FIRST_YEAR} and {LAST_YEAR}"
# The schema's pattern for a date or date-time string in range (the year is its first four digits).
YEAR_PATTERN = r"^(19[7-9][0-9]|20[0-9][0-9]|2100)-"


def date_in_range(value: dt.date | dt.datetime | None) -> bool:
    if value is None:
        return True
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            return FIRST_YEAR <= value.year <= LAST_YEAR
        return EARLIEST <= value < LATEST
    return FIRST_YEAR <= value.year <= LAST_YEAR


def validate_date_in_range(value: dt.date | dt.datetime | None) -> None:
    if not date_in_range(value):
        raise ValidationError(f"Give a date {DATE_RANGE_TEXT}.", code="date_out_of_range")


# --- Single-line text --------------------------------------------------------------------------------------
# Titles, names, versions, external ids, gate names and labels are one line of printable text: no C0 or C1
# control characters (CR, LF, TAB, NUL, ESC, ...), no Unicode line or paragraph separators, and no bidirectional
# embeddings, overrides or isolates (U+202A-U+202E, U+2066-U+2069), which make a line display as other text.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
SINGLE_LINE_PATTERN = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*$"
SINGLE_LINE_MESSAGE = "Use one line of text, without line breaks, tabs or other control characters."


def is_single_line(value: str) -> bool:
    return CONTROL_CHARACTERS.search(value) is None


def validate_single_line(value: object) -> None:
    if isinstance(value, str) and not is_single_line(value):
        raise ValidationError(SINGLE_LINE_MESSAGE, code="control_characters")


def one_line(value: str) -> str:
    """`value` with every control character and run of whitespace made one space, for text a tool sends that
    Hindsight turns into a title itself (an alert name, a header)."""
    return " ".join(CONTROL_CHARACTERS.sub(" ", value).split())


# --- Text sizes --------------------------------------------------------------------------------------------
TITLE_MAX = 200
NAME_MAX = 100
SHORT_TEXT_MAX = 5_000  # a cause note, a timeline entry
LONG_TEXT_MAX = 20_000  # a summary, a trigger, what would have happened, a description
BODY_MAX = 200_000  # a postmortem body, in Markdown


@deconstructible
class TextLimit(MaxLengthValidator):
    """MaxLengthValidator for a TextField (whose max_length Django does not enforce), with a message that
    says the limit."""

    message = "Keep this to at most %(limit_value)d characters (it has %(show_value)d)."


# --- Lists -------------------------------------------------------------------------------------------------
LIST_MAX = 50  # services, releases or causes named in one request
TIMELINE_MAX = 500  # timeline entries posted with one incident


def gate_name_problem(name: object) -> str | None:
    """Why `name` cannot be a deployment gate's name, or None when it can."""
    if not isinstance(name, str) or not name.strip() or len(name) > 50 or not is_single_line(name):
        return f"Gate name {name!r} must be one line of 1 to 50 printable characters."
    return None


# --- JSON nesting ------------------------------------------------------------------------------------------
# Python's json module parses nested arrays and objects recursively: a body of a few thousand `[` would reach the
# interpreter's recursion limit. Every door that parses JSON measures the depth first (API_MAX_JSON_DEPTH).
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in a JSON text (0 for a scalar), in linear time.

    1. Escaped backslashes go first, then escaped quotes: every quote left delimits a string.
    2. Splitting on the quotes leaves what is outside strings at the even positions.
    3. Outside strings, each bracket opens or closes a level; the running sum peaks at the depth.
    Invalid JSON gets some number here and its parse error from the parser.
    """
    unescaped = text.replace("\\\\", "").replace('\\"', "")
    outside = "".join(unescaped.split('"')[::2])
    brackets = _NOT_A_BRACKET.sub("", outside)
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)
