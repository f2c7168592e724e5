"""Fixtures for importing postmortems: the team's services, a runner for the command, sample repositories."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from incidents.models import Incident
from tests.factories import ServiceFactory


@pytest.fixture
def catalogue(team, other_team, service):
    """checkout-api (payments'), ledger (platform's, so refused to payments), shared-cron (nobody's)."""
    ServiceFactory(name="Ledger", slug="ledger", owner_team=other_team)
    ServiceFactory(name="Shared cron", slug="shared-cron", owner_team=None)
    return team


class Run:
    """The outcome of one run of the command: its printed report, and the error when it exited non-zero."""

    def __init__(self, output: str, error: CommandError | None) -> None:
        self.output, self.error = output, error

    def __contains__(self, text: str) -> bool:
        return text in self.output

    def section(self, title: str) -> str:
        """The lines of the report from the line starting with `title` to the next unindented line."""
        lines = self.output.splitlines()
        start = next(index for index, line in enumerate(lines) if title in line and not line.startswith(" "))
        end = next(
            (index for index in range(start + 1, len(lines)) if not lines[index].startswith(" ")), len(lines)
        )
        return "\n".join(lines[start:end])


@pytest.fixture
def run_import(db):
    def run(path: Path | str, *options: str, team: str = "payments") -> Run:
        out = StringIO()
        try:
            call_command("import_postmortems", str(path), "--team", team, *options, stdout=out)
        except CommandError as error:
            return Run(out.getvalue(), error)
        return Run(out.getvalue(), None)

    return run


def imported() -> list[Incident]:
    return list(Incident.objects.filter(source="import").order_by("started_at", "id"))


def write(folder: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return folder


# Shaped like the postmortem repositories teams keep: Jekyll posts, Hugo pages (TOML), bare Markdown files.
JEKYLL_POST = """\
---
layout: post
title: "Checkout outage after the database failover"
date: 2021-03-04 14:05:00 +0000
end: 2021-03-04 14:43:00 +0000
severity: SEV2
environment: production
services:
  - checkout-api
  - Ledger
tags: [db-failover, missing-check, Weak monitoring]
summary: |
  Checkout returned errors for 38 minutes while the primary database failed over.
url: https://wiki.example.com/postmortems/2021-03-04
---
# Checkout outage after the database failover

## What happened

The primary database lost its disk at 14:05 and the replica took 38 minutes to be promoted.

## Contributing factors

Nothing checked that the failover runbook still matched the cluster.
"""
HUGO_PAGE = """\
+++
title = "Stale feature flags served after deploy"
start = 2022-06-10T09:00:00Z
resolved_at = 2022-06-10T10:30:00Z
priority = "P3"
components = ["Shared cron"]
labels = ["config drift"]
+++

The flag service kept an old snapshot in its cache.
"""
UNTITLED_DATED_BY_NAME = """\
# Queue backlog grew for hours

Consumers were stuck on a poison message; nobody was paged.
"""
SUMMARY_ONLY = """\
---
summary: "Cron ran twice after the clock change.\\nThe second run sent duplicate invoices."
start: 2023-03-26
---
No heading in this one.
"""
BAD_YAML = """\
---
title: Half written
tags: [a, b
date: 2021-01-01
---
Body.
"""
