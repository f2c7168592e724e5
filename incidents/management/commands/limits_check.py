"""List stored values that the input limits (incidents/limits.py) would refuse today.

Rows stored before a limit existed keep their values; a later edit of such a row names the field to fix. This
command finds them all at once, so an operator can fix them before people trip over them.
"""

from __future__ import annotations

from django.apps import apps
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from incidents import limits

LIMIT_VALIDATORS = (limits.validate_single_line, limits.validate_date_in_range)


def _limit_validators(field) -> list:
    return [v for v in field.validators if v in LIMIT_VALIDATORS or isinstance(v, limits.TextLimit)]


class Command(BaseCommand):
    help = "List stored values outside today's input limits (dates, single-line fields, text sizes)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--limit", type=int, default=100, help="Show at most this many values (default 100).")

    def handle(self, *args, limit: int, **options) -> None:
        found = 0
        for model in apps.get_app_config("incidents").get_models():
            for field in model._meta.concrete_fields:
                checks = _limit_validators(field)
                if not checks:
                    continue
                rows = model._default_manager.order_by("pk").values_list("pk", field.attname)
                for pk, value in rows.iterator(chunk_size=2000):
                    problem = self._problem(checks, value)
                    if problem is None:
                        continue
                    found += 1
                    if found <= limit:
                        self.stdout.write(f"{model.__name__} {pk} {field.name}: {problem}")
        if found:
            raise CommandError(f"{found} stored value(s) are outside the limits (docs/limits.md).")
        self.stdout.write(self.style.SUCCESS("Every stored value is within the limits."))

    @staticmethod
    def _problem(checks: list, value) -> str | None:
        if value in (None, ""):
            return None
        for check in checks:
            try:
                check(value)
            except ValidationError as error:
                return " ".join(error.messages)
        return None
