"""Redaction on the way in: personal data and secrets in free text become typed placeholders.

Incident text is pasted from terminals, tickets and chat, so it carries e-mail addresses, IPs, phone numbers,
card numbers and credentials. Every door (forms, API, webhooks) stores text through the services, which pass
it through `redact_fields` with the policy of each field: redact (replace with a placeholder such as
`[email]`), reject (refuse the input, naming the field and what was found) or off.

What must never be touched: version numbers, commit shas, artifact digests, timestamps and ordinary numbers.
Each detector is written so that those cannot match (see tests/test_redaction.py for the corpus).
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from django.core.exceptions import ValidationError

REDACT, REJECT, OFF = "redact", "reject", "off"
POLICIES = (REDACT, REJECT, OFF)

KIND_LABELS = {
    "secret": "a secret (key, token or password)",
    "email": "an e-mail address",
    "card": "a payment card number",
    "ip": "an IP address",
    "phone": "a phone number",
}


@dataclass(frozen=True)
class _Detector:
    kind: str
    pattern: re.Pattern[str]
    # Builds the replacement from the match; None keeps the match (a false positive after closer checks).
    replace: Callable[[re.Match[str]], str | None]


def _whole(kind: str) -> Callable[[re.Match[str]], str]:
    return lambda match: f"[{kind}]"


def _keep_prefix(kind: str) -> Callable[[re.Match[str]], str]:
    """Keep the label before the secret (`password=`, `Bearer `), replace the value."""
    return lambda match: f"{match.group('label')}[{kind}]"


def _keep_lead(kind: str) -> Callable[[re.Match[str]], str]:
    """Keep what `_first_start_in_run` stepped over before the value, replace the value."""
    return lambda match: f"{match.group('lead')}[{kind}]"


def _first_start_in_run(run: str, start: str) -> str:
    r"""A pattern prefix that tries `start` once per run of `run` characters: at its first place in the run.

    A detector such as `\beyJ[\w-]{5,}\.` scans from where it starts to the end of the run of `[\w-]`
    characters; started again at every later `-eyJ` of the same run, it rescans the same characters, which is
    quadratic in the run's length (`eyJ-` repeated). Every later start in a run reaches the same run end with
    less text behind it, so it matches only if the first one does: trying the first alone (the atomic group
    commits to it) finds the same values in linear time. The characters stepped over are the `lead` group.
    """
    return rf"(?<!{run})(?>(?P<lead>{run}*?){start})"


def _luhn_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


_CARD_PREFIX = re.compile(r"4|5[1-5]|2(?:2[2-9]|[3-6]\d|7[01]|720)|3[47]|3(?:0[0-5]|[68])|6(?:011|5|4[4-9])|35")


def _card(match: re.Match[str]) -> str | None:
    digits = re.sub(r"[ -]", "", match.group(0))
    if 13 <= len(digits) <= 19 and _CARD_PREFIX.match(digits) and _luhn_ok(digits):
        return "[card]"
    return None


def _ipv4(match: re.Match[str]) -> str | None:
    try:
        ipaddress.IPv4Address(match.group(0).split("/")[0])
    except ValueError:
        return None
    return "[ip]"


def _ipv6(match: re.Match[str]) -> str | None:
    candidate = match.group(0)
    if re.fullmatch(r"\d{1,2}:\d{2}(?::\d{2})?", candidate):
        return None  # clock times such as 12:30:45 are not addresses
    try:
        ipaddress.IPv6Address(candidate.split("%")[0])
    except ValueError:
        return None
    return "[ip]"


_SECRET_KEY_NAMES = r"(?:password|passwd|pwd|pass|secret|token|api[_-]?key|apikey|access[_-]?token|auth|client[_-]?secret|private[_-]?key|signature|sig)"  # noqa: S105 - names, not a secret

# Order matters: secrets first (a JWT or URL password must not be half-eaten by the e-mail or IP detectors).
DETECTORS: tuple[_Detector, ...] = (
    _Detector(
        "secret",
        # A pasted key ends at its END line; a truncated paste at the end of its paragraph.
        re.compile(
            r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----.*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----|(?=\n[ \t]*\n)|\Z)",
            re.S,
        ),
        _whole("secret"),
    ),
    _Detector(
        "secret",
        re.compile(_first_start_in_run(r"[\w-]", r"\beyJ") + r"[\w-]{5,}\.eyJ[\w-]{5,}\.[\w-]{5,}"),
        _keep_lead("secret"),
    ),
    _Detector("secret", re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[A-Z0-9]{16}\b"), _whole("secret")),
    _Detector(
        "secret",
        re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b"),
        _whole("secret"),
    ),
    _Detector(
        "secret",
        re.compile(_first_start_in_run(r"[A-Za-z0-9-]", r"\bxox[abposr]-") + r"[A-Za-z0-9-]{10,}"),
        _keep_lead("secret"),
    ),
    _Detector(
        "secret",
        re.compile(r"https://hooks\.slack\.com/services/[A-Za-z0-9/_-]+"),
        _whole("secret"),
    ),
    _Detector(
        "secret",
        re.compile(r"(?P<label>\b[Bb]earer\s+)(?!\[)[A-Za-z0-9._~+/=-]{8,}"),
        _keep_prefix("secret"),
    ),
    _Detector(
        "secret",
        # scheme://user:password@host → keeps the user, replaces the password.
        re.compile(
            r"(?P<label>" + _first_start_in_run(r"[a-z0-9+.-]", r"\b[a-z]") + r"[a-z0-9+.-]*://[^\s:/@]+:)"
            r"(?!\[)[^\s@/]+(?=@)",
            re.I,
        ),
        _keep_prefix("secret"),
    ),
    _Detector(
        "secret",
        re.compile(rf"(?P<label>[?&;]{_SECRET_KEY_NAMES}=)(?!\[)[^\s&#;]+", re.I),
        _keep_prefix("secret"),
    ),
    _Detector(
        "secret",
        re.compile(rf"(?P<label>\b{_SECRET_KEY_NAMES}\s*[:=]\s*)(?!\[)[\"']?[^\s\"',;]{{6,}}[\"']?", re.I),
        _keep_prefix("secret"),
    ),
    _Detector(
        "email",
        # At most 64 characters before the "@" (RFC 5321's limit on a local part): a local part may start
        # after any "%" of a run, and each start scans at most that far for its "@".
        re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"),
        _whole("email"),
    ),
    _Detector("card", re.compile(r"(?<![\w.:-])\d(?:[ -]?\d){12,18}(?![\w.:-]|-\d)"), _card),
    _Detector(
        "ip",
        # Not after "v" or a version word, and not part of a longer dotted run (1.2.3.4.5) or a suffix (-rc1).
        re.compile(
            r"(?<![\w.])(?<!version )(?<!release )(?<!v)(?:\d{1,3}\.){3}\d{1,3}(?![\w.]|-\w)(?:/\d{1,2})?", re.I
        ),
        _ipv4,
    ),
    _Detector("ip", re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?:%\w+)?(?![\w:])"), _ipv6),
    _Detector(
        "phone",
        re.compile(
            r"(?<![\w+.-])(?:"
            r"\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,6}"  # international: +33 6 12 34 56 78, +1-202-555-0143
            r"|\(\d{3}\)\s?\d{3}[ .-]\d{4}"  # (202) 555-0143
            r"|\d{3}[ .-]\d{3}[ .-]\d{4}"  # 202-555-0143
            r"|0\d(?:[ .]\d{2}){4}"  # 06 12 34 56 78
            r"|0\d{2,4} \d{3,4} \d{3,4}"  # 020 7946 0958
            r")(?![\w.-]|:\d)"
        ),
        _whole("phone"),
    ),
)


# The values redacted: texts, or texts some of which may be None (kept as None).
_Values = TypeVar("_Values", str, str | None)


@dataclass
class Redaction(Generic[_Values]):
    """The cleaned values and, per field, how many of each kind were replaced."""

    values: dict[str, _Values]
    found: dict[str, dict[str, int]] = field(default_factory=dict)

    def summary(self) -> str:
        parts = []
        for name, kinds in self.found.items():
            listed = ", ".join(f"{count} {kind}" for kind, count in kinds.items())
            parts.append(f"{name}: {listed}")
        return "; ".join(parts)


def redact_text(text: str) -> tuple[str, Counter[str]]:
    """Replace every detected value in `text`; returns the new text and a count per kind."""
    found: Counter[str] = Counter()
    if not text:
        return text, found
    for detector in DETECTORS:

        def substitute(match: re.Match[str], detector: _Detector = detector) -> str:
            replacement = detector.replace(match)
            if replacement is None:
                return match.group(0)
            found[detector.kind] += 1
            return replacement

        text = detector.pattern.sub(substitute, text)
    return text, found


def field_policy(name: str, policies: Mapping[str, str], default: str) -> str:
    return policies.get(name, default)


def redact_fields(
    values: Mapping[str, _Values],
    *,
    policies: Mapping[str, str] | None = None,
    default: str | None = None,
    prefix: str = "",
) -> Redaction[_Values]:
    """Apply each field's policy to its text. Raises ValidationError naming every rejected field."""
    from django.conf import settings

    policies = settings.REDACTION_FIELD_POLICIES if policies is None else policies
    default = settings.REDACTION_DEFAULT_POLICY if default is None else default
    result: Redaction[_Values] = Redaction(values={})
    errors: dict[str, str] = {}
    for name, value in values.items():
        policy = field_policy(f"{prefix}{name}", policies, default)
        if policy == OFF or not value:
            result.values[name] = value
            continue
        cleaned, found = redact_text(value)
        if found and policy == REJECT:
            kinds = ", ".join(KIND_LABELS[kind] for kind in found)
            errors[name] = f"Remove {kinds} before saving; this field does not accept them."
        result.values[name] = cleaned
        if found:
            result.found[name] = dict(found)
    if errors:
        raise ValidationError(errors)
    return result


PLACEHOLDER_NAMES = {
    "secret": "secret", "email": "e-mail address", "card": "card number", "ip": "IP address", "phone": "phone number",
}  # fmt: skip


def describe_redactions(found: Mapping[str, Mapping[str, int]]) -> str:
    """A sentence for the person who typed the text: what was replaced, where, by which placeholder."""
    parts = []
    for field_name, kinds in found.items():
        label = field_name.replace("_", " ").replace(".", " ")
        listed = ", ".join(
            f"{count} {PLACEHOLDER_NAMES[kind]}{'s' if count > 1 else ''} ([{kind}])"
            for kind, count in kinds.items()
        )
        parts.append(f"{label}: {listed}")
    return "Personal data and secrets were replaced before saving. " + "; ".join(parts) + "."
