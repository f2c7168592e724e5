from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from incidents.dataset import ExportRefused, check_rules, export_dataset


class Command(BaseCommand):
    help = (
        "Write the whole data set to FILE as JSON; --masked pseudonymizes people, redacts free text and hashes "
        "identifiers (docs/data-hygiene.md)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="Where to write the data set ('-' for standard output).")
        parser.add_argument(
            "--masked", action="store_true", help="For non-production copies: nothing identifying."
        )

    def handle(self, *args, file: str, masked: bool, **options) -> None:
        try:
            check_rules()  # before the file is opened: a refused export leaves nothing behind
            counts = self._export(file, masked=masked)
        except ExportRefused as refused:
            raise CommandError(str(refused)) from None
        summary = ", ".join(f"{count} {label}" for label, count in counts.items())
        self.stderr.write(f"Exported {'a masked' if masked else 'an unmasked'} data set: {summary}.")

    def _export(self, file: str, *, masked: bool) -> dict[str, int]:
        if file == "-":
            return export_dataset(self.stdout, masked=masked)
        with open(file, "w", encoding="utf-8") as stream:
            return export_dataset(stream, masked=masked)
