"""The line diff behind revision history and the conflict page."""

from __future__ import annotations

from incidents.diff import field_changes, line_diff


def test_long_unchanged_stretches_are_folded_around_the_change():
    old = "\n".join(f"line {n}" for n in range(1, 21))
    new = old.replace("line 10", "line ten")
    rows = line_diff(old, new, context=2)
    assert [(row.kind, row.text) for row in rows] == [
        ("skipped", "unchanged lines"),
        ("same", "line 8"),
        ("same", "line 9"),
        ("removed", "line 10"),
        ("added", "line ten"),
        ("same", "line 11"),
        ("same", "line 12"),
    ]
    assert (rows[3].old_number, rows[4].new_number) == (10, 10)


def test_identical_texts_have_no_diff_and_unchanged_fields_are_left_out():
    assert line_diff("same\ntext", "same\ntext") == []
    changes = field_changes(
        {"title": "A", "body": "x", "trigger": None}, {"title": "A", "body": "y", "trigger": ""}
    )
    assert [name for name, _ in changes] == ["body"]
