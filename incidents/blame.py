"""Blame-language hints: phrases and people named as the subject of a failure, each with a system cause.

Hints are advice shown beside the editor and at review; nothing here ever blocks a save.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings

DEFAULT_CAUSE = "missing-check"
# A person as the subject of a failure: "Bob forgot", "alice broke prod", "@chen didn't check".
FAILURE_VERBS = (
    r"forgot|broke|missed|messed|screwed|failed|neglected|ignored|overlooked|skipped|"
    r"didn't|did not|didnt|should have|shouldn't have|should not have|caused|mistyped|accidentally"
)
MIN_NAME_LENGTH = 3
MAX_HINTS = 20


@dataclass(frozen=True)
class BlamePhrase:
    phrase: str
    cause_slug: str


@dataclass(frozen=True)
class Hint:
    """One piece of advice: the words found, why they read as blame, and the system cause to look at."""

    found: str
    reason: str
    cause_slug: str


def parse_phrases(items: Iterable[str]) -> list[BlamePhrase]:
    """`phrase` or `phrase=cause-slug`, as listed in the BLAME_PHRASES setting."""
    phrases = []
    for item in items:
        phrase, _, slug = item.partition("=")
        phrase, slug = phrase.strip().lower(), slug.strip().lower()
        if phrase:
            phrases.append(BlamePhrase(phrase=phrase, cause_slug=slug or DEFAULT_CAUSE))
    return phrases


@lru_cache(maxsize=8)
def _phrase_pattern(phrases: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in sorted(phrases, key=len, reverse=True))
    return re.compile(rf"(?<!\w)({alternatives})(?!\w)", re.IGNORECASE)


def _name_pattern(names: Sequence[str]) -> re.Pattern[str] | None:
    usable = sorted({n for n in names if len(n) >= MIN_NAME_LENGTH}, key=len, reverse=True)
    if not usable:
        return None
    alternatives = "|".join(re.escape(name) for name in usable)
    return re.compile(rf"(?<![\w@])@?({alternatives})\s+({FAILURE_VERBS})(?!\w)", re.IGNORECASE)


def blame_hints(
    text: str, *, names: Sequence[str] = (), phrases: Sequence[BlamePhrase] | None = None
) -> list[Hint]:
    """Blame language in `text`, in order of appearance, each phrase or name reported once."""
    phrases = parse_phrases(settings.BLAME_PHRASES) if phrases is None else phrases
    by_phrase = {p.phrase: p.cause_slug for p in phrases}
    found: list[tuple[int, Hint]] = []
    seen: set[str] = set()
    text = text or ""
    if by_phrase:
        for match in _phrase_pattern(tuple(by_phrase)).finditer(text):
            key = re.sub(r"\s+", " ", match.group(1).lower())
            if key in seen:
                continue
            seen.add(key)
            reason = "Blame language: it names a person's failing, not what the system allowed."
            found.append((match.start(), Hint(found=match.group(0), reason=reason, cause_slug=by_phrase[key])))
    pattern = _name_pattern(names)
    if pattern is not None:
        for match in pattern.finditer(text):
            key = match.group(1).lower()
            if f"@name:{key}" in seen:
                continue
            seen.add(f"@name:{key}")
            reason = "A person is the subject of a failure. Describe the check or safeguard that was missing."
            found.append((match.start(), Hint(found=match.group(0), reason=reason, cause_slug=DEFAULT_CAUSE)))
    return [hint for _, hint in sorted(found, key=lambda pair: pair[0])][:MAX_HINTS]


def names_of(users: Iterable) -> list[str]:
    """The names by which people are written about: username, first name, last name."""
    names: list[str] = []
    for user in users:
        names.extend(value for value in (user.username, user.first_name, user.last_name) if value)
    return names
