from __future__ import annotations

from pathlib import Path

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from incidents.audit import acting_as
from incidents.importing import FORMATS, ImportInputError, files_from_path, parse_files, parse_mappings
from incidents.models import Team
from incidents.services.imports import COMMAND_ACTOR, IMPORT_STATUSES, postmortems_import


class Command(BaseCommand):
    help = (
        "Import postmortems kept elsewhere for a team: a folder or zip of Markdown files with front matter, a "
        "Jira or Confluence CSV export, or JSON (docs/importing.md). Running it again creates nothing new."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="A folder (read recursively), a .zip, or a .md, .csv or .json file.")
        parser.add_argument("--team", required=True, help="The slug of the team the postmortems belong to.")
        parser.add_argument(
            "--format", choices=FORMATS, help="Read only files of this format (default: by extension)."
        )
        parser.add_argument(
            "--map", action="append", default=[], metavar="FIELD=COLUMN|tag:TAG=CAUSE",
            help="FIELD=COLUMN: the column (or front-matter or JSON key) that holds a field; tag:TAG=CAUSE: the "
            "cause (slug or name) a tag means, or nothing to drop it. Repeat as needed.",
        )  # fmt: skip
        parser.add_argument("--status", choices=IMPORT_STATUSES, default="draft", help="Default: draft.")
        parser.add_argument("--dry-run", action="store_true", help="Write nothing; print what would be done.")
        parser.add_argument(
            "--announce", action="store_true",
            help="Tell the team of each new item as of one filed now (leads' mail, chat, webhook events); default: "
            "imported history is announced to no one.",
        )  # fmt: skip

    def handle(self, *args, path: str, team: str, format: str | None, map: list[str], status: str,
               dry_run: bool, announce: bool, **options) -> None:  # fmt: skip
        chosen = Team.objects.filter(slug=team).first()
        if chosen is None:
            raise CommandError(f"No team with the slug {team!r}.")
        try:
            mapping = parse_mappings(map)
            parsed = parse_files(files_from_path(Path(path), forced=format), mapping)
        except ImportInputError as error:
            raise CommandError(str(error)) from None
        try:
            with acting_as(label="command:import_postmortems"):
                report = postmortems_import(actor=COMMAND_ACTOR, team=chosen, parsed=parsed, tag_map=mapping.tags,
                                            status=status, dry_run=dry_run, announce=announce)  # fmt: skip
        except (ValidationError, PermissionDenied) as error:
            raise CommandError(" ".join(getattr(error, "messages", [str(error)]))) from None
        for line in report.lines():
            self.stdout.write(line)
        if not parsed.records:
            raise CommandError(f"Nothing could be read from {path}.")
