"""Reading postmortems kept elsewhere into records: Markdown files with front matter, CSV exports (Jira,
Confluence tables, Hindsight's list) and JSON (a list of objects, or Hindsight's API). Pure parsing, no
database: incidents/services/imports.py resolves and stores what is read here. docs/importing.md tells each
format, field and fallback.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from incidents.importing.markdown import read_markdown
from incidents.importing.records import (
    FIELDS,
    FORMATS,
    MAX_FILES,
    MAX_MARKDOWN_BYTES,
    MAX_ROWS,
    MAX_TABLE_BYTES,
    MAX_UPLOAD_BYTES,
    MAX_ZIP_MEMBERS,
    MAX_ZIP_TOTAL_BYTES,
    BadValue,
    CauseTag,
    ImportInputError,
    ImportMap,
    Problem,
    Record,
    parse_mappings,
)
from incidents.importing.sources import (
    BoundedMemoryUpload,
    Gathered,
    SourceFile,
    files_from_path,
    files_from_upload,
    files_from_zip,
)
from incidents.importing.tables import read_csv, read_json


@dataclass
class Parsed:
    """What was read: the records, the files and rows that could not be read (each with where and why), how many
    files were read and how many were left aside (of no known format)."""

    records: list[Record] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    files_read: int = 0
    files_skipped: int = 0
    profiles: dict[str, str] = field(default_factory=dict)  # CSV or JSON file → the columns it was read with


def parse_files(gathered: Gathered, mapping: ImportMap) -> Parsed:
    """Every gathered file read by its format; a file or row that cannot be read becomes a problem."""
    parsed = Parsed(problems=list(gathered.problems), files_skipped=gathered.skipped)
    for file in gathered.files:
        parsed.files_read += 1
        try:
            if file.format == "markdown":
                parsed.records.append(read_markdown(file, mapping))
                continue
            result = (read_csv if file.format == "csv" else read_json)(file, mapping)
        except BadValue as bad:
            where = f"{file.name}:{bad.line}" if bad.line else file.name
            parsed.problems.append(Problem(where, str(bad)))
            continue
        parsed.records.extend(result.records)
        parsed.problems.extend(result.problems)
        if result.profile:
            parsed.profiles[file.name] = result.profile
    return parsed


__all__ = [
    "FIELDS", "FORMATS", "MAX_FILES", "MAX_MARKDOWN_BYTES", "MAX_ROWS", "MAX_TABLE_BYTES", "MAX_UPLOAD_BYTES",
    "MAX_ZIP_MEMBERS", "MAX_ZIP_TOTAL_BYTES", "BadValue", "BoundedMemoryUpload", "CauseTag", "Gathered",
    "ImportInputError", "ImportMap", "Parsed", "Problem", "Record", "SourceFile", "files_from_path",
    "files_from_upload", "files_from_zip", "parse_files", "parse_mappings",
]  # fmt: skip
