from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from incidents.dataset import export_dataset


class Command(BaseCommand):
    help = "Write the whole data set to FILE as JSON; --masked pseudonymizes people and redacts free text."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="Where to write the data set ('-' for standard output).")
        parser.add_argument(
            "--masked", action="store_true", help="For non-production copies: nothing identifying."
        )

    def handle(self, *args, file: str, masked: bool, **options) -> None:
        if file == "-":
            counts = export_dataset(self.stdout, masked=masked)
        else:
            with open(file, "w", encoding="utf-8") as stream:
                counts = export_dataset(stream, masked=masked)
        summary = ", ".join(f"{count} {label}" for label, count in counts.items())
        self.stderr.write(f"Exported {'a masked' if masked else 'an unmasked'} data set: {summary}.")
