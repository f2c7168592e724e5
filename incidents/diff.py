"""A readable line diff between two versions of a text, for revision history and conflict pages."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

CONTEXT = 3


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "same", "added", "removed" or "skipped"
    old_number: int | None
    new_number: int | None
    text: str

    @property
    def sign(self) -> str:
        return {"added": "+", "removed": "-", "skipped": "…"}.get(self.kind, " ")


def line_diff(old: str, new: str, *, context: int = CONTEXT) -> list[DiffLine]:
    """Lines removed from `old` and added in `new`, with `context` unchanged lines around each change."""
    old_lines, new_lines = (old or "").splitlines(), (new or "").splitlines()
    matcher = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False)
    lines: list[DiffLine] = []
    for group in matcher.get_grouped_opcodes(context):
        if lines or group[0][1] > 0:
            lines.append(DiffLine("skipped", None, None, "unchanged lines"))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                lines.extend(
                    DiffLine("same", i + 1, j + 1, old_lines[i])
                    for i, j in zip(range(i1, i2), range(j1, j2), strict=True)
                )
                continue
            if tag in ("replace", "delete"):
                lines.extend(DiffLine("removed", i + 1, None, old_lines[i]) for i in range(i1, i2))
            if tag in ("replace", "insert"):
                lines.extend(DiffLine("added", None, j + 1, new_lines[j]) for j in range(j1, j2))
    return lines


def field_changes(old: dict[str, str], new: dict[str, str]) -> list[tuple[str, list[DiffLine]]]:
    """The diff of each named field that differs, in the order given."""
    return [
        (name, line_diff(old.get(name) or "", new.get(name) or ""))
        for name in new
        if (old.get(name) or "") != (new.get(name) or "")
    ]
