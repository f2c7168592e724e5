"""Mail headers built from stored text: one helper, so no field can carry a line break into a header.

A title is checked at input, but rows also arrive through the admin, imports and the shell; a subject holding
`\r\nBcc: x@y` must become one harmless line, not a second header (or a send that fails on every retry).
"""

from __future__ import annotations

import unicodedata

SUBJECT_LENGTH = 200  # characters: clients show far fewer, and a bounded header cannot grow with a field

# Bidirectional overrides and isolates: invisible, and they can make a subject read as something else.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})  # controls (\r \n \t \0 ...), surrogates, line breaks


def _safe(char: str) -> str:
    if char in _BIDI_CONTROLS or unicodedata.category(char) in _UNSAFE_CATEGORIES:
        return " "
    return char


def header_text(text: str, max_length: int) -> str:
    """`text` as one header line: control characters and line breaks become spaces, runs of whitespace one
    space, and a text longer than `max_length` is cut, ending with an ellipsis."""
    line = " ".join("".join(_safe(char) for char in text).split())
    if len(line) <= max_length:
        return line
    return line[: max_length - 1].rstrip() + "…"
