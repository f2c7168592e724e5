"""What every format is read into: one Record per postmortem, or a Problem naming the file (and line) and why.

A format reader gathers the raw values of each field (text, lists, dates as YAML or JSON gave them) and
`build_record` turns them into a Record the same way for all formats: one-line fields cleaned, dates parsed,
lists split and capped, fallbacks applied. Nothing here touches the database: causes, services, environments
and severities are resolved by the import service (incidents/services/imports.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from incidents.limits import LIST_MAX, TIMELINE_MAX, TITLE_MAX, date_in_range, is_single_line, one_line

# --- Limits (docs/importing.md lists them) -----------------------------------------------------------------
MAX_FILES = 1_000  # files of a known format in one folder or zip
MAX_ZIP_MEMBERS = 2 * MAX_FILES  # entries of a zip, folders included
MAX_MARKDOWN_BYTES = 1 * 1024 * 1024  # one Markdown file
MAX_TABLE_BYTES = 20 * 1024 * 1024  # one CSV or JSON file
MAX_ZIP_TOTAL_BYTES = 50 * 1024 * 1024  # everything a zip unpacks to
MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # a file uploaded on the admin page
MAX_ROWS = 5_000  # rows of a CSV file, items of a JSON file
MAX_COLUMNS = 1_000  # columns of a CSV header
MAX_FRONT_MATTER_BYTES = 64 * 1024
MAX_NESTING = 20  # YAML and JSON nesting
MAX_MAPPINGS = 200  # --map arguments
KEY_MAX = 149  # a key kept as it is in the external id (after the team's slug); longer ones are hashed

FORMATS = ("markdown", "csv", "json")
# Fields a --map can point at a column or key. `causes` takes tags, cause slugs or cause names.
FIELDS = (
    "key", "title", "started_at", "detected_at", "mitigated_at", "resolved_at", "severity", "services", "causes",
    "summary", "body", "url", "environment", "kind", "caught_by", "trigger", "potential_impact",
)  # fmt: skip
FIELD_ALIASES = {"date": "started_at", "start": "started_at", "end": "resolved_at", "tags": "causes",
                 "labels": "causes", "id": "key"}  # fmt: skip
DATE_FIELDS = ("started_at", "detected_at", "mitigated_at", "resolved_at")
LIST_FIELDS = ("services", "causes")
TEXT_FIELDS = ("summary", "body", "trigger", "potential_impact")


class ImportInputError(Exception):
    """Nothing can be read: a missing path, a file that is not a zip, too many files, a bad --map."""


@dataclass(frozen=True)
class Problem:
    where: str  # "postmortems/db.md:4", "jira.csv:12", "export.json[3]", or a file name
    reason: str


@dataclass(frozen=True)
class CauseTag:
    """A tag or a cause as the source names it; a note and a gate come only from Hindsight's own export."""

    name: str
    note: str = ""
    gate: str = ""


@dataclass
class Record:
    where: str
    key: str  # stable per file or row: the external id is the team's slug and this
    title: str
    started_at: dt.datetime
    detected_at: dt.datetime | None = None
    mitigated_at: dt.datetime | None = None
    resolved_at: dt.datetime | None = None
    kind: str = ""
    severity: str = ""
    environment: str = ""
    caught_by: str = ""
    services: list[str] = field(default_factory=list)
    tags: list[CauseTag] = field(default_factory=list)
    summary: str = ""
    trigger: str = ""
    potential_impact: str = ""
    body: str = ""
    url: str = ""
    confidential: bool = False
    timeline: list[tuple[dt.datetime, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ImportMap:
    """--map arguments: `field=column` (which column or key holds a field) and `tag:NAME=CAUSE` (which cause an
    unknown tag means; an empty CAUSE drops the tag)."""

    fields: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)  # tag, lower case → cause slug or name ("" drops it)


def parse_mappings(items: Iterable[str]) -> ImportMap:
    """Read --map arguments (or the admin page's lines). ImportInputError names the first bad one."""
    fields: dict[str, str] = {}
    tags: dict[str, str] = {}
    for count, item in enumerate(filter(None, (raw.strip() for raw in items)), start=1):
        if count > MAX_MAPPINGS:
            raise ImportInputError(f"At most {MAX_MAPPINGS} mappings.")
        name, equals, target = item.partition("=")
        name, target = name.strip(), target.strip()
        if not equals or not is_single_line(item) or len(item) > 300:
            raise ImportInputError(f"--map {item!r}: write field=column or tag:NAME=CAUSE.")
        if name.lower().startswith("tag:"):
            tag = name[4:].strip().lower()
            if not tag:
                raise ImportInputError(f"--map {item!r}: name the tag after tag:.")
            tags[tag] = target
            continue
        key = FIELD_ALIASES.get(name.lower(), name.lower())
        if key not in FIELDS:
            raise ImportInputError(f"--map {item!r}: {name!r} is not a field; the fields are {', '.join(FIELDS)}.")
        if not target:
            raise ImportInputError(f"--map {item!r}: name the column or key after =.")
        fields[key] = target
    return ImportMap(fields=fields, tags=tags)


# --- Values --------------------------------------------------------------------------------------------------


class BadValue(ValueError):
    """A value that is given but cannot be used: the record fails, naming the field (and the line, if known)."""

    def __init__(self, message: str, *, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


def decode(data: bytes, *, name: str) -> str:
    """UTF-8 text (a byte order mark dropped). BadValue names the line of the first byte that is not UTF-8."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise BadValue(f"Not UTF-8 (byte 0x{data[error.start]:02x}); save it as UTF-8.", line=line) from None


def hashed_key(*parts: str) -> str:
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
    return f"sha256:{digest[:40]}"


def stable_key(value: str) -> str:
    """A key as the external id keeps it: one line of at most KEY_MAX characters, else its hash."""
    if value and len(value) <= KEY_MAX and is_single_line(value) and value == value.strip():
        return value
    return hashed_key(value)


def as_text(value: Any, *, name: str) -> str:
    """A scalar as text (numbers and dates too); a list or mapping is refused."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    raise BadValue(f"{name}: expected text, got a {type(value).__name__}.")


def multiline(value: Any, *, name: str) -> str:
    """Free text: line ends made \\n, NUL characters (which no database column stores) dropped."""
    text = as_text(value, name=name)
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "").strip("\n")


def as_list(value: Any, *, name: str, warnings: list[str]) -> list[str]:
    """A list of scalars, or text split on commas and semicolons; each item one line; at most LIST_MAX."""
    if value is None or value == "":
        return []
    if isinstance(value, list | tuple):
        items = [as_text(item, name=name) for item in value if not isinstance(item, list | dict)]
    else:
        items = re.split(r"[,;]", as_text(value, name=name))
    cleaned = list(dict.fromkeys(filter(None, (one_line(item) for item in items))))
    if len(cleaned) > LIST_MAX:
        warnings.append(f"{name}: only the first {LIST_MAX} of {len(cleaned)} were read.")
    return cleaned[:LIST_MAX]


# Dates and times as exporters write them, tried in order after ISO 8601 (docs/importing.md).
DATE_FORMATS = (
    "%d/%b/%y %I:%M %p", "%d/%b/%Y %I:%M %p", "%d/%b/%y %H:%M", "%d/%b/%Y %H:%M", "%d/%b/%y", "%d/%b/%Y",  # Jira
    "%Y/%m/%d %H:%M", "%Y/%m/%d", "%d %b %Y %H:%M", "%d %b %Y", "%d %B %Y", "%b %d, %Y", "%B %d, %Y",
)  # fmt: skip
_TRAILING_ZONE = re.compile(r"^(\d{4}-\d{2}-\d{2}[ T]\d{1,2}:\d{2}(?::\d{2})?)\s+([A-Za-z]{1,5})$")


def _aware(value: dt.datetime) -> dt.datetime:
    """A naive time is read in the server's TIME_ZONE, as Hindsight's own exports write it."""
    return timezone.make_aware(value) if timezone.is_naive(value) else value


def parse_when(value: Any, *, name: str) -> dt.datetime | None:
    """A date or a time, as YAML, JSON or a CSV cell gives it; None when empty. BadValue when not understood."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        when = _aware(value)
    elif isinstance(value, dt.date):
        when = _aware(dt.datetime.combine(value, dt.time()))
    else:
        when = _parse_text_when(one_line(as_text(value, name=name)), name=name)
    if not date_in_range(when):
        raise BadValue(f"{name}: {when:%Y-%m-%d} is not between the years 1970 and 2100.")
    return when


def _parse_text_when(text: str, *, name: str) -> dt.datetime:
    if len(text) > 60:
        raise BadValue(f"{name}: {text[:60]!r}… is not a date.")
    candidate = text.replace("Z", "+00:00") if text.endswith("Z") else text
    zoned = _TRAILING_ZONE.match(candidate)
    if zoned and zoned.group(2).upper() in ("UTC", "GMT"):
        candidate = zoned.group(1) + "+00:00"
    elif zoned:  # a local zone's abbreviation, as Hindsight's CSV export writes: the time is the server's
        candidate = zoned.group(1)
    try:
        return _aware(dt.datetime.fromisoformat(candidate))
    except ValueError:
        pass
    for pattern in DATE_FORMATS:
        try:
            return _aware(dt.datetime.strptime(text, pattern))  # made aware in TIME_ZONE
        except ValueError:
            continue
    raise BadValue(f"{name}: {text!r} is not a date or time this import understands (see docs/importing.md).")


_PATH_DATE = re.compile(r"(?<!\d)(\d{4})[-/_.](\d{2})[-/_.](\d{2})(?!\d)")


def date_in_path(path: str) -> dt.datetime | None:
    """The date a file's name carries (2021-03-04-db-outage.md), else its folders (2021/03/04/db.md)."""
    base = path.rsplit("/", 1)[-1]
    for text in (base, path):
        for match in _PATH_DATE.finditer(text):
            try:
                day = dt.date(*(int(part) for part in match.groups()))
            except ValueError:
                continue
            if date_in_range(day):
                return _aware(dt.datetime.combine(day, dt.time()))
    return None


def title_from_name(path: str) -> str:
    """A title made from a file name: its date and extension dropped, dashes and underscores made spaces."""
    stem = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    words = _PATH_DATE.sub(" ", stem).replace("-", " ").replace("_", " ")
    title = one_line(words) or one_line(stem)
    return title[:1].upper() + title[1:]


def summary_line(texts: Mapping[str, str]) -> str:
    """The title fallback every format shares: the summary's first line."""
    return first_line(texts.get("summary", ""))


def first_line(text: str) -> str:
    line = one_line(text.strip().split("\n", 1)[0]) if text.strip() else ""
    return line if len(line) <= TITLE_MAX else line[: TITLE_MAX - 1] + "…"


def as_url(value: Any, *, warnings: list[str]) -> str:
    url = one_line(as_text(value, name="url"))
    if url and not re.match(r"https?://[^\s/]+", url, re.IGNORECASE):
        warnings.append(f"url: {url[:80]!r} is not an http(s) link; left out.")
        return ""
    return url[:2000]


def as_flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return isinstance(value, str | int) and str(value).strip().lower() in ("yes", "true", "1", "y")


def _cause_tags(value: Any, *, warnings: list[str]) -> list[CauseTag]:
    """Tags as text or a list; items of Hindsight's export are objects with a cause, a note and a gate."""
    if isinstance(value, list) and any(isinstance(item, dict) for item in value):
        tags = []
        for item in value[:LIST_MAX]:
            if isinstance(item, dict) and isinstance(item.get("cause"), str):
                tags.append(CauseTag(one_line(item["cause"]), multiline(item.get("note"), name="causes.note"),
                                     one_line(as_text(item.get("gate"), name="causes.gate"))))  # fmt: skip
            elif isinstance(item, str):
                tags.append(CauseTag(one_line(item)))
        return [tag for tag in tags if tag.name]
    return [CauseTag(name) for name in as_list(value, name="causes", warnings=warnings)]


def _timeline(value: Any, *, warnings: list[str]) -> list[tuple[dt.datetime, str]]:
    if not isinstance(value, list):
        return []
    entries = []
    for item in value[:TIMELINE_MAX]:
        try:
            at = parse_when(item.get("at"), name="timeline.at") if isinstance(item, dict) else None
        except BadValue as bad:
            warnings.append(f"{bad} The entry was left out.")
            continue
        text = multiline(item.get("text"), name="timeline.text") if isinstance(item, dict) else ""
        if at is not None and text:
            entries.append((at, text))
    if len(value) > TIMELINE_MAX:
        warnings.append(f"timeline: only the first {TIMELINE_MAX} entries were read.")
    return entries


@dataclass(frozen=True)
class Fallbacks:
    """What a format offers when a field is missing: a title and a start time, each with how it was found."""

    titles: tuple[tuple[str, Callable[[Mapping[str, str]], str]], ...] = ()  # each is given the free texts
    started_at: tuple[str, Callable[[], dt.datetime | None]] | None = None


def build_record(raw: Mapping[str, Any], *, where: str, key: str, fallbacks: Fallbacks) -> Record:
    """Turn the raw values of one postmortem into a Record. BadValue when a given value cannot be used, or when
    no start time is found."""
    warnings: list[str] = []
    times = {name: parse_when(raw.get(name), name=name) for name in DATE_FIELDS}
    started = times.pop("started_at")
    if started is None and fallbacks.started_at is not None:
        how, find = fallbacks.started_at
        started = find()
        if started is not None:
            warnings.append(f"started_at: taken from {how}.")
    if started is None:
        raise BadValue("No start date: give one (date, started_at, ...) or name the file YYYY-MM-DD-....")
    texts = {name: multiline(raw.get(name), name=name) for name in TEXT_FIELDS}
    title = one_line(as_text(raw.get("title"), name="title"))
    for how, find_title in fallbacks.titles if not title else ():
        if title := find_title(texts):
            warnings.append(f"title: taken from {how}.")
            break
    return Record(
        where=where, key=key, title=title, started_at=started, detected_at=times["detected_at"],
        mitigated_at=times["mitigated_at"], resolved_at=times["resolved_at"], summary=texts["summary"],
        body=texts["body"], trigger=texts["trigger"], potential_impact=texts["potential_impact"],
        kind=one_line(as_text(raw.get("kind"), name="kind")),
        severity=one_line(as_text(raw.get("severity"), name="severity")),
        environment=one_line(as_text(raw.get("environment"), name="environment")),
        caught_by=one_line(as_text(raw.get("caught_by"), name="caught_by")),
        services=as_list(raw.get("services"), name="services", warnings=warnings),
        tags=_cause_tags(raw.get("causes"), warnings=warnings),
        url=as_url(raw.get("url"), warnings=warnings),
        confidential=as_flag(raw.get("confidential")),
        timeline=_timeline(raw.get("timeline"), warnings=warnings),
        warnings=warnings,
    )  # fmt: skip


def normal_key(name: object) -> str:
    """A front-matter or JSON key as the aliases name it: lower case, spaces and dashes made underscores."""
    return re.sub(r"[\s-]+", "_", str(name).strip().lower())


# Front-matter and JSON keys for each field (normalized by normal_key), in order of preference.
KEY_ALIASES: dict[str, tuple[str, ...]] = {
    "key": ("key", "id", "external_id", "incident_id"),
    "title": ("title", "name", "headline", "incident"),
    "started_at": ("started_at", "start", "start_time", "started", "impact_start", "begin", "date",
                   "incident_date", "occurred_at", "created_at", "created"),
    "detected_at": ("detected_at", "detected", "detection_time"),
    "mitigated_at": ("mitigated_at", "mitigated", "mitigation_time"),
    "resolved_at": ("resolved_at", "resolved", "ended_at", "end", "end_time", "ended", "impact_end",
                    "resolution_time"),
    "severity": ("severity", "sev", "priority", "level", "impact_level"),
    "services": ("services", "service", "components", "component", "systems", "affected_services"),
    "causes": ("causes", "cause", "tags", "labels", "categories", "contributing_factors", "root_causes"),
    "summary": ("summary", "tldr", "tl_dr", "abstract", "description"),
    "body": ("body", "content", "postmortem", "markdown", "text"),
    "url": ("url", "link", "permalink", "source_url", "original_url"),
    "environment": ("environment", "env", "stage"),
    "kind": ("kind",),
    "caught_by": ("caught_by",),
    "trigger": ("trigger",),
    "potential_impact": ("potential_impact",),
    "confidential": ("confidential",),
    "timeline": ("timeline",),
}  # fmt: skip


def pick_keys(data: Mapping[Any, Any], overrides: Mapping[str, str]) -> dict[str, Any]:
    """The raw value of each field from a mapping (front matter, a JSON object): the key a --map names, else the
    first alias present."""
    values = {normal_key(name): value for name, value in data.items()}
    raw: dict[str, Any] = {}
    for name, aliases in KEY_ALIASES.items():
        keys = (normal_key(overrides[name]),) if name in overrides else aliases
        found = next((key for key in keys if key in values), None)
        if found is not None:
            raw[name] = values[found]
    return raw
