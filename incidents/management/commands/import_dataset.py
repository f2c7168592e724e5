from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from incidents.dataset import import_dataset


class Command(BaseCommand):
    help = "Load a data set written by export_dataset into an empty Hindsight instance."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="A file written by export_dataset.")

    def handle(self, *args, file: str, **options) -> None:
        try:
            with open(file, encoding="utf-8") as stream:
                counts = import_dataset(stream)
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error.strerror}.") from None
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        summary = ", ".join(f"{count} {label}" for label, count in counts.items())
        self.stdout.write(self.style.SUCCESS(f"Imported {summary}."))
