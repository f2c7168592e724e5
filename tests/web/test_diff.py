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


def test_scattered_edits_in_a_long_text_are_each_shown_with_their_context():
    old = "\n".join(f"line {n}" for n in range(1, 3001))
    new = old.replace("line 100\n", "line one hundred\n").replace("line 2900\n", "line 2,900\n")
    rows = line_diff(old, new, context=1)
    assert [(row.kind, row.text) for row in rows if row.kind in ("removed", "added")] == [
        ("removed", "line 100"), ("added", "line one hundred"), ("removed", "line 2900"), ("added", "line 2,900"),
    ]  # fmt: skip
    assert not any(row.kind == "note" for row in rows)


def test_a_change_too_large_to_align_is_shown_removed_then_added_with_a_note():
    old, new = "a\nb\n" * 3000, "a\na\nb\nb\n" * 1500  # repetitive lines: the worst shape for alignment
    rows = line_diff("title\n" + old + "end", "title\n" + new + "end")
    assert rows[0].kind == "note" and "too large to compare line by line" in rows[0].text
    kinds = [row.kind for row in rows[1:]]
    # Both versions start with "title", "a" and end with "b", "end": the 5,998 lines between are the change.
    assert kinds.count("removed") == 5998 and kinds.count("added") == 5998
    assert kinds.index("added") > max(index for index, kind in enumerate(kinds) if kind == "removed")
    assert [row.text for row in rows if row.kind == "same"] == ["title", "a", "b", "end"]
