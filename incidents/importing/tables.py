"""Rows of postmortems: CSV exports (Jira, Confluence tables, Hindsight's own list) and JSON (a list of objects,
or Hindsight's API).

Which column holds which field comes from the header: Jira's export is known by its `Issue key` column,
Hindsight's by `Reference` and `Caught in`, anything else (a Confluence table) by the generic names; a --map
names the column itself. A field that several columns of the same name hold (Jira repeats `Labels` and
`Component/s` once per value) takes all of them.
"""

from __future__ import annotations

import csv
import io
import json
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from incidents.importing.records import (
    LIST_FIELDS,
    MAX_COLUMNS,
    MAX_NESTING,
    MAX_ROWS,
    BadValue,
    Fallbacks,
    ImportMap,
    Problem,
    Record,
    as_text,
    build_record,
    decode,
    hashed_key,
    pick_keys,
    stable_key,
    summary_line,
)
from incidents.importing.sources import SourceFile
from incidents.limits import BODY_MAX, json_depth, one_line

JIRA_COLUMNS: dict[str, tuple[str, ...]] = {
    "key": ("issue key",),
    "title": ("summary",),
    "started_at": ("custom field (start time)", "custom field (incident start)", "custom field (impact start)",
                   "created"),
    "resolved_at": ("custom field (end time)", "custom field (incident end)", "custom field (impact end)",
                    "resolved"),
    "severity": ("custom field (severity)", "severity", "priority"),
    "services": ("component/s", "components", "custom field (affected services)"),
    "causes": ("labels",),
    "body": ("description",),
    "environment": ("environment",),
}  # fmt: skip
HINDSIGHT_COLUMNS: dict[str, tuple[str, ...]] = {
    "key": ("reference",), "title": ("title",), "kind": ("kind",), "severity": ("severity",),
    "environment": ("caught in",), "caught_by": ("caught by",), "services": ("services",), "causes": ("causes",),
    "started_at": ("started",), "confidential": ("confidential",),
}  # fmt: skip
GENERIC_COLUMNS: dict[str, tuple[str, ...]] = {
    "key": ("id", "key", "incident id", "reference", "page id", "ticket"),
    "title": ("title", "name", "incident", "page title", "page", "postmortem"),
    "started_at": ("started at", "start", "start time", "started", "date", "incident date", "created"),
    "detected_at": ("detected at", "detected"),
    "mitigated_at": ("mitigated at", "mitigated"),
    "resolved_at": ("resolved at", "resolved", "end", "end time", "ended"),
    "severity": ("severity", "sev", "priority", "impact level"),
    "services": ("services", "service", "affected services", "components", "component/s", "component", "systems"),
    "causes": ("causes", "cause", "tags", "labels", "categories", "root cause category"),
    "summary": ("summary", "description", "what happened"),
    "body": ("body", "postmortem", "content", "details", "notes", "text"),
    "url": ("url", "link", "page url"),
    "environment": ("environment", "env"),
    "kind": ("kind",), "caught_by": ("caught by",), "trigger": ("trigger",),
    "potential_impact": ("potential impact",),
}  # fmt: skip
PROFILES = {"Jira": JIRA_COLUMNS, "Hindsight": HINDSIGHT_COLUMNS, "generic": GENERIC_COLUMNS}
FORMULA_QUOTED = re.compile(r"^'(?=[=+\-@\t\r])")  # Hindsight's export defuses formulas with a leading quote
JIRA_HEADING = re.compile(r"^h([1-6])\.[ \t]+", re.MULTILINE)


@dataclass
class TableResult:
    records: list[Record]
    problems: list[Problem]
    profile: str = ""


def _column_name(name: str) -> str:
    return " ".join(name.split()).lower()


def _profile(header: list[str]) -> str:
    names = set(header)
    if "issue key" in names:
        return "Jira"
    if {"reference", "caught in"} <= names:
        return "Hindsight"
    return "generic"


def _columns(header: list[str], profile: str, mapping: ImportMap) -> dict[str, list[int]]:
    """The column indexes of each field. BadValue when a --map names a column the header lacks."""
    found: dict[str, list[int]] = {}
    for name, candidates in PROFILES[profile].items():
        if name in mapping.fields:
            continue
        chosen = next((candidate for candidate in candidates if candidate in header), None)
        if chosen is not None:
            found[name] = [index for index, column in enumerate(header) if column == chosen]
    for name, column in mapping.fields.items():
        wanted = _column_name(column)
        indexes = [index for index, header_name in enumerate(header) if header_name == wanted]
        if not indexes:
            raise BadValue(f"--map {name}={column}: the header has no column {column!r}.", line=1)
        found[name] = indexes
    return found


def _row_values(row: list[str], columns: Mapping[str, list[int]], profile: str) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    for name, indexes in columns.items():
        cells = [row[index].strip() for index in indexes if index < len(row) and row[index].strip()]
        if profile == "Hindsight":
            cells = [FORMULA_QUOTED.sub("", cell) for cell in cells]
        raw[name] = cells if name in LIST_FIELDS else (cells[0] if cells else "")
    if profile == "Jira" and raw.get("body"):
        raw["body"] = JIRA_HEADING.sub(lambda match: "#" * int(match.group(1)) + " ", raw["body"])
    if profile == "Hindsight":
        raw["severity"] = raw.get("severity", "").split(" ", 1)[0]  # "SEV2 (major)"
    return raw


_CSV_LIMIT_LOCK = threading.Lock()  # the csv module's field size limit is the process's: one reader at a time


@contextmanager
def _csv_field_limit(limit: int) -> Iterator[None]:
    with _CSV_LIMIT_LOCK:
        previous = csv.field_size_limit(limit)
        try:
            yield
        finally:
            csv.field_size_limit(previous)


def _delimiter(first_line: str) -> str:
    """Comma, semicolon (spreadsheets in many locales) or tab: whichever the header line holds most of."""
    return max((",", ";", "\t"), key=first_line.count)


def read_csv(file: SourceFile, mapping: ImportMap) -> TableResult:
    """The rows of a CSV file as records; each bad row is a problem naming its line, and the others are read."""
    text = decode(file.data, name=file.name)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text.partition("\n")[0]))
    with _csv_field_limit(BODY_MAX + 1):
        try:
            header = [_column_name(name) for name in next(reader)]
        except StopIteration:
            raise BadValue("An empty file.") from None
        except csv.Error as error:
            raise BadValue(f"CSV error: {error}.", line=1) from None
        if len(header) > MAX_COLUMNS:
            raise BadValue(f"The header has {len(header)} columns; at most {MAX_COLUMNS}.", line=1)
        profile = _profile(header)
        columns = _columns(header, profile, mapping)
        result = TableResult(records=[], problems=[], profile=profile)
        _read_rows(file.name, reader, columns, profile, result)
    return result


def _read_rows(name: str, reader, columns: Mapping[str, list[int]], profile: str, result: TableResult) -> None:
    rows, previous_end = 0, reader.line_num
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            result.problems.append(Problem(f"{name}:{reader.line_num}", f"CSV error: {error}; the rest of the "
                                                                           "file was not read."))  # fmt: skip
            return
        line, previous_end = previous_end + 1, reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        rows += 1
        if rows > MAX_ROWS:
            result.problems.append(Problem(f"{name}:{line}", f"More than {MAX_ROWS} rows: this one and the rest "
                                                                 "were not read."))  # fmt: skip
            return
        _add_row(result, name=name, line=line, row=row, columns=columns, profile=profile)


def _add_row(result: TableResult, *, name: str, line: int, row: list[str], columns, profile: str) -> None:
    where = f"{name}:{line}"
    try:
        raw = _row_values(row, columns, profile)
        key = one_line(as_text(raw.get("key"), name="key")) or hashed_key(*row)
        fallbacks = Fallbacks(titles=(("the summary's first line", summary_line),
                                      ("the file name and line", lambda texts: f"{name} line {line}")))  # fmt: skip
        result.records.append(build_record(raw, where=where, key=stable_key(key), fallbacks=fallbacks))
    except BadValue as bad:
        result.problems.append(Problem(where, str(bad)))


# --- JSON ----------------------------------------------------------------------------------------------------

# Hindsight's API (incidents/api/serializers.py IncidentSerializer): the fields an import keeps, by the same name.
HINDSIGHT_KEYS = (
    "title", "summary", "potential_impact", "trigger", "severity", "environment", "caught_by", "services",
    "causes", "started_at", "detected_at", "mitigated_at", "resolved_at", "body", "kind", "confidential",
    "timeline",
)  # fmt: skip


def _json_items(file: SourceFile) -> list[Any]:
    text = decode(file.data, name=file.name)
    if json_depth(text) > MAX_NESTING:
        raise BadValue(f"JSON nested more than {MAX_NESTING} levels deep.")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise BadValue(f"Not valid JSON: {error.msg}.", line=error.lineno) from None
    except ValueError as error:  # e.g. an integer of more digits than Python converts
        raise BadValue(f"Not valid JSON: {error}.") from None
    if isinstance(data, dict) and isinstance(data.get("results"), list):
        data = data["results"]  # a page of Hindsight's API
    if not isinstance(data, list):
        raise BadValue("Expected a list of objects, or a page of Hindsight's API (an object with results).")
    return data


def _constant(text: str) -> Callable[[Mapping[str, str]], str]:
    return lambda texts: text


def read_json(file: SourceFile, mapping: ImportMap) -> TableResult:
    items = _json_items(file)
    result = TableResult(records=[], problems=[], profile="")
    if len(items) > MAX_ROWS:
        result.problems.append(Problem(f"{file.name}[{MAX_ROWS + 1}]", f"More than {MAX_ROWS} items: this one "
                                                                           "and the rest were not read."))  # fmt: skip
    for index, item in enumerate(items[:MAX_ROWS], start=1):
        where = f"{file.name}[{index}]"
        if not isinstance(item, dict):
            result.problems.append(Problem(where, "Not an object."))
            continue
        hindsight = {"reference", "kind", "started_at"} <= item.keys() and not mapping.fields
        result.profile = result.profile or ("Hindsight" if hindsight else "generic")
        try:
            raw = (
                {name: item.get(name) for name in HINDSIGHT_KEYS} if hindsight else pick_keys(item, mapping.fields)
            )
            key_value = item.get("reference") if hindsight else raw.get("key")
            key = one_line(as_text(key_value, name="key")) or hashed_key(json.dumps(item, sort_keys=True))
            fallbacks = Fallbacks(titles=(("the summary's first line", summary_line),
                                          ("the file name and item", _constant(where))))  # fmt: skip
            result.records.append(build_record(raw, where=where, key=stable_key(key), fallbacks=fallbacks))
        except BadValue as bad:
            result.problems.append(Problem(where, str(bad)))
    return result
