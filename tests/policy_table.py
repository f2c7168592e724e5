"""The table of docs/authorization.md, read as the authorization tests' expectations."""

from __future__ import annotations

from pathlib import Path

TABLE = Path(__file__).resolve().parent.parent / "docs" / "authorization.md"
# The table's columns, by the names the tests give the personas.
COLUMNS = {
    "signed out": "anonymous", "member of another team": "outsider", "team member": "reporter",
    "team lead": "lead", "admin": "admin", "team's write token": "write_token",
    "other team's token": "other_token", "read token": "read_token",
}  # fmt: skip
CELLS = {"yes", "no", "hidden", "—"}


def policy_table() -> dict[str, dict[str, str]]:
    """action → persona → "yes" | "no" | "hidden" | "—", from the first table of the page whose header starts
    with "action"."""
    rows = [line for line in TABLE.read_text(encoding="utf-8").splitlines() if line.startswith("| ")]
    header_at = next(i for i, line in enumerate(rows) if line.startswith("| action |"))
    header = [cell.strip() for cell in rows[header_at].strip("|").split("|")][1:]
    personas = [COLUMNS[name] for name in header]
    table: dict[str, dict[str, str]] = {}
    for line in rows[header_at + 2 :]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) != len(header) + 1:
            break  # the next table
        action, values = cells[0], cells[1:]
        assert set(values) <= CELLS, f"{action}: cells must be one of {sorted(CELLS)}"
        table[action] = dict(zip(personas, values, strict=True))
    return table
