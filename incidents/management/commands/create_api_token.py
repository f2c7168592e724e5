"""python manage.py create_api_token NAME --team SLUG --scope read|write: prints the token once."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from incidents.audit import acting_as
from incidents.models import ApiToken, Team
from incidents.services import api_token_create


class Command(BaseCommand):
    help = "Create an API token acting for a team. The token is printed once; only its hash is stored."

    def add_arguments(self, parser) -> None:
        parser.add_argument("name", help="What will use the token, e.g. 'deploy pipeline'.")
        parser.add_argument("--team", required=True, help="The slug of the team the token acts for.")
        parser.add_argument(
            "--scope", required=True, choices=[ApiToken.Scope.READ, ApiToken.Scope.WRITE], help="read or write."
        )

    def handle(self, *args, name: str, team: str, scope: str, **options) -> None:
        found = Team.objects.filter(slug=team).first()
        if found is None:
            known = ", ".join(Team.objects.values_list("slug", flat=True)) or "none yet"
            raise CommandError(f"No team with slug {team!r} (known: {known}).")
        try:
            with acting_as(label="command:create_api_token"):
                token, raw = api_token_create(name=name, team=found, scope=scope)
        except ValidationError as error:
            messages = "; ".join(f"{key}: {' '.join(msgs)}" for key, msgs in error.message_dict.items())
            raise CommandError(messages) from None
        self.stderr.write(
            f"Created {scope} token {token.name!r} for {found.slug} (prefix {token.prefix}). "
            "It is shown once; store it now:"
        )
        self.stdout.write(raw)
