"""A readable line diff between two versions of a text, for revision history and conflict pages.

Its cost is linear in the texts, whatever their shape. The lines both versions start and end with are set
aside first; the changed part between them is aligned with Myers' algorithm, whose work grows with the size
of the change (lines x edits), within a budget of MAX_ALIGN_STEPS. A change too large for the budget (a
rewrite of thousands of lines, or hostile text such as repeated near-identical lines) is shown as its old
lines removed, then its new lines added, with a note saying so. (difflib's SequenceMatcher, used before,
is cubic on repetitive lines: 1,000 alternating lines took 30 s.)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

CONTEXT = 3
# About a third of a second of alignment in CPython; typical edits need a few thousand steps.
MAX_ALIGN_STEPS = 500_000
TOO_LARGE = (
    "This change is too large to compare line by line: its old lines are shown removed, then its new lines added."
)

Opcode = tuple[str, int, int, int, int]  # as difflib's: tag, old start, old end, new start, new end


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "same", "added", "removed", "skipped" or "note"
    old_number: int | None
    new_number: int | None
    text: str

    @property
    def sign(self) -> str:
        return {"added": "+", "removed": "-", "skipped": "…", "note": "!"}.get(self.kind, " ")


def _codes(old_lines: list[str], new_lines: list[str]) -> tuple[list[int], list[int]]:
    """Each line as a small integer, so that comparing two lines costs the same whatever their length."""
    ids: dict[str, int] = {}
    return [ids.setdefault(line, len(ids)) for line in old_lines], [
        ids.setdefault(line, len(ids)) for line in new_lines
    ]


def _common_ends(a: list[int], b: list[int]) -> tuple[int, int]:
    """How many lines the two versions share at their start, and then at their end."""
    limit = min(len(a), len(b))
    head = 0
    while head < limit and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < limit - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    return head, tail


def _myers_trace(a: list[int], b: list[int], budget: int) -> list[dict[int, int]] | None:
    """The furthest-reaching paths of Myers' greedy diff, one snapshot per edit count; None past `budget`."""
    n, m = len(a), len(b)
    reach: dict[int, int] = {1: 0}
    trace: list[dict[int, int]] = []
    steps = 0
    for edits in range(n + m + 1):
        trace.append(dict(reach))
        steps += len(reach)
        for diagonal in range(-edits, edits + 1, 2):
            down = diagonal == -edits or (diagonal != edits and reach[diagonal - 1] < reach[diagonal + 1])
            x = reach[diagonal + 1] if down else reach[diagonal - 1] + 1
            y = x - diagonal
            start = x
            while x < n and y < m and a[x] == b[y]:
                x, y = x + 1, y + 1
            steps += 1 + x - start
            reach[diagonal] = x
            if x >= n and y >= m:
                return trace
        if steps > budget:
            return None
    return trace


def _edit_script(a: list[int], b: list[int], trace: list[dict[int, int]]) -> list[tuple[str, int, int]]:
    """("equal" | "delete" | "insert", old index, new index) for each line, first to last."""
    x, y = len(a), len(b)
    script: list[tuple[str, int, int]] = []
    for edits in range(len(trace) - 1, -1, -1):
        reach = trace[edits]
        diagonal = x - y
        down = diagonal == -edits or (diagonal != edits and reach[diagonal - 1] < reach[diagonal + 1])
        previous = diagonal + 1 if down else diagonal - 1
        previous_x = reach[previous]
        previous_y = previous_x - previous
        while x > previous_x and y > previous_y:
            x, y = x - 1, y - 1
            script.append(("equal", x, y))
        if edits > 0:
            script.append(("insert", x, previous_y) if down else ("delete", previous_x, y))
        x, y = previous_x, previous_y
    script.reverse()
    return script


def _opcodes(script: list[tuple[str, int, int]], old_start: int, new_start: int) -> Iterator[Opcode]:
    """Runs of the edit script as difflib-style opcodes, each changed run as one replace, delete or insert."""
    index = 0
    while index < len(script):
        kind, i, j = script[index]
        end = index
        if kind == "equal":
            while end < len(script) and script[end][0] == "equal":
                end += 1
            yield "equal", old_start + i, old_start + i + end - index, new_start + j, new_start + j + end - index
        else:
            while end < len(script) and script[end][0] != "equal":
                end += 1
            removed = sum(1 for step in script[index:end] if step[0] == "delete")
            added = end - index - removed
            tag = "replace" if removed and added else "delete" if removed else "insert"
            yield tag, old_start + i, old_start + i + removed, new_start + j, new_start + j + added
        index = end


def _all_opcodes(a: list[int], b: list[int]) -> tuple[list[Opcode], bool]:
    """The opcodes from `a` to `b`, and whether the changed part was too large to align."""
    head, tail = _common_ends(a, b)
    middle_a, middle_b = a[head : len(a) - tail], b[head : len(b) - tail]
    codes: list[Opcode] = [("equal", 0, head, 0, head)] if head else []
    trace = _myers_trace(middle_a, middle_b, MAX_ALIGN_STEPS)
    if trace is None:
        codes.append(("replace", head, len(a) - tail, head, len(b) - tail))
    else:
        codes.extend(_opcodes(_edit_script(middle_a, middle_b, trace), head, head))
    if tail:
        codes.append(("equal", len(a) - tail, len(a), len(b) - tail, len(b)))
    return codes, trace is None


def _grouped(codes: list[Opcode], context: int) -> Iterator[list[Opcode]]:
    """Changes with `context` unchanged lines around them, as difflib's get_grouped_opcodes groups them."""
    if not any(tag != "equal" for tag, *_ in codes):
        return
    codes = list(codes)
    if codes[0][0] == "equal":
        tag, i1, i2, j1, j2 = codes[0]
        codes[0] = tag, max(i1, i2 - context), i2, max(j1, j2 - context), j2
    if codes[-1][0] == "equal":
        tag, i1, i2, j1, j2 = codes[-1]
        codes[-1] = tag, i1, min(i2, i1 + context), j1, min(j2, j1 + context)
    group: list[Opcode] = []
    for tag, i1, i2, j1, j2 in codes:
        if tag == "equal" and i2 - i1 > 2 * context:
            group.append((tag, i1, min(i2, i1 + context), j1, min(j2, j1 + context)))
            yield group
            group = []
            i1, j1 = max(i1, i2 - context), max(j1, j2 - context)
        group.append((tag, i1, i2, j1, j2))
    if group and not (len(group) == 1 and group[0][0] == "equal"):
        yield group


def line_diff(old: str, new: str, *, context: int = CONTEXT) -> list[DiffLine]:
    """Lines removed from `old` and added in `new`, with `context` unchanged lines around each change."""
    old_lines, new_lines = (old or "").splitlines(), (new or "").splitlines()
    codes, too_large = _all_opcodes(*_codes(old_lines, new_lines))
    lines: list[DiffLine] = [DiffLine("note", None, None, TOO_LARGE)] if too_large else []
    for group in _grouped(codes, context):
        if len(lines) > too_large or group[0][1] > 0:
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
