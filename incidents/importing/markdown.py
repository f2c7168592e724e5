"""Markdown postmortems: front matter (YAML between `---` lines, or TOML between `+++` lines), then the text.

YAML is loaded with PyYAML's safe loader (plain data only: no Python objects), limited to
MAX_FRONT_MATTER_BYTES, MAX_NESTING levels and no aliases (`*name`), so that a small front matter cannot expand
into a large structure. TOML is read with the standard library's parser.
"""

from __future__ import annotations

import re
import tomllib
from typing import Any

import yaml

from incidents.importing.records import (
    MAX_FRONT_MATTER_BYTES,
    MAX_NESTING,
    BadValue,
    Fallbacks,
    ImportMap,
    Record,
    as_text,
    build_record,
    date_in_path,
    decode,
    pick_keys,
    stable_key,
    summary_line,
    title_from_name,
)
from incidents.importing.sources import SourceFile
from incidents.limits import TITLE_MAX, one_line

CLOSERS = {"---": ("---", "..."), "+++": ("+++",)}


class FrontMatterLoader(yaml.SafeLoader):
    """The safe loader, refusing aliases and nesting deeper than MAX_NESTING."""

    depth = 0

    def compose_node(self, parent, index):
        event = self.peek_event()
        mark = event.start_mark if isinstance(event.start_mark, yaml.Mark) else None
        if isinstance(event, yaml.AliasEvent):
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not accepted", mark)
        self.depth += 1
        try:
            if self.depth > MAX_NESTING:
                raise yaml.composer.ComposerError(None, None, f"nested more than {MAX_NESTING} levels deep", mark)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _load_yaml(text: str) -> Any:
    loader = FrontMatterLoader(text)
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 2 if mark is not None else None  # the front matter starts on the file's line 2
        raise BadValue(f"YAML error: {error.problem or error.context}.", line=line) from None
    except yaml.YAMLError as error:
        raise BadValue(f"YAML error: {error}.", line=2) from None
    except (ValueError, OverflowError) as error:  # a value YAML cannot build: 2021-02-30, a 5,000-digit number
        raise BadValue(f"YAML value that cannot be read: {str(error)[:200]}.", line=2) from None
    finally:
        loader.dispose()


def _load_toml(text: str) -> Any:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        found = re.search(r"line (\d+)", str(error))
        raise BadValue(f"TOML error: {error}.", line=int(found.group(1)) + 1 if found else 2) from None
    except RecursionError:
        raise BadValue(f"TOML nested too deeply (at most {MAX_NESTING} levels).", line=2) from None
    except (ValueError, OverflowError) as error:  # a value TOML cannot build
        raise BadValue(f"TOML value that cannot be read: {str(error)[:200]}.", line=2) from None


def split_front_matter(text: str) -> tuple[dict[Any, Any], str]:
    """The front matter as a mapping, and the text after it. BadValue (with its line) when it cannot be read."""
    first, _, rest = text.partition("\n")
    opener = first.strip()
    if opener not in CLOSERS:
        return {}, text
    head = rest[: MAX_FRONT_MATTER_BYTES + 1]
    offset = 0
    for line in head.split("\n"):
        if line.strip() in CLOSERS[opener]:
            data = head[:offset]
            body = rest[offset + len(line) + 1 :]
            break
        offset += len(line) + 1
    else:
        if len(rest) > MAX_FRONT_MATTER_BYTES:
            raise BadValue(
                f"Front matter longer than {MAX_FRONT_MATTER_BYTES // 1024} KiB, or never closed.", line=1
            )
        raise BadValue(f"The front matter opened on line 1 is never closed with {CLOSERS[opener][0]}.", line=1)
    if len(data) > MAX_FRONT_MATTER_BYTES:
        raise BadValue(f"Front matter longer than {MAX_FRONT_MATTER_BYTES // 1024} KiB.", line=1)
    meta = _load_yaml(data) if opener == "---" else _load_toml(data)
    if meta is None:
        return {}, body
    if not isinstance(meta, dict):
        raise BadValue("The front matter is not a mapping of keys to values.", line=2)
    return meta, body


def _heading_text(line: str) -> tuple[int, str] | None:
    """An ATX heading's level and text (`## Text ##` → 2, "Text"), in linear time; None for other lines."""
    stripped = line.lstrip(" ")
    if len(line) - len(stripped) > 3 or not stripped.startswith("#"):
        return None
    text = stripped.lstrip("#")
    level = len(stripped) - len(text)
    if level > 6 or (text and text[0] not in " \t"):
        return None
    return level, one_line(text.strip().rstrip("#"))


def title_heading(body: str) -> tuple[str, int | None]:
    """The heading a title is taken from: the first line's when the text opens with one, else the first level-1
    heading (outside code blocks). Returns its text and, when it opens the text, its line index (to drop it)."""
    fenced, opening = None, True
    for index, line in enumerate(body.split("\n")):
        marker = line.strip()[:3]
        if marker in ("```", "~~~"):
            fenced = None if fenced == marker else (fenced or marker)
            opening = False
            continue
        if fenced or not line.strip():
            continue
        heading = _heading_text(line)
        if heading and heading[1] and (opening or heading[0] == 1):
            return heading[1], index if opening else None
        opening = False
    return "", None


def _drop_line(body: str, index: int) -> str:
    lines = body.split("\n")
    return "\n".join(lines[:index] + lines[index + 1 :])


def read_markdown(file: SourceFile, mapping: ImportMap) -> Record:
    """One Markdown file as a Record. BadValue (with a line when known) when it cannot be read."""
    text = decode(file.data, name=file.name)
    meta, body = split_front_matter(text)
    raw = pick_keys(meta, mapping.fields)
    heading, heading_index = title_heading(body)
    title = one_line(as_text(raw.get("title"), name="title"))
    if heading_index is not None and (not title or title.lower() == heading.lower()):
        body = _drop_line(body, heading_index)  # the page shows the title above the text already
    raw["body"] = body
    key = one_line(as_text(raw.get("key"), name="key")) if "key" in mapping.fields else ""
    heading = heading if len(heading) <= TITLE_MAX else heading[: TITLE_MAX - 1] + "…"
    fallbacks = Fallbacks(
        titles=(("the first heading", lambda texts: heading), ("the summary's first line", summary_line),
                ("the file name", lambda texts: title_from_name(file.name))),
        started_at=("the file name", lambda: date_in_path(file.name)),
    )  # fmt: skip
    return build_record(raw, where=file.name, key=stable_key(key or file.name), fallbacks=fallbacks)
