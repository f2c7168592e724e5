"""python manage.py create_hook SOURCE NAME --team SLUG [--service SLUG] [--secret S] [--environment NAME=SLUG ...]

Prints the receiver's URL and what the sender needs: the signing secret (GitHub, PagerDuty, Sentry) or the bearer
token (Alertmanager, Opsgenie, Grafana). Both are shown once.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from incidents.audit import acting_as
from incidents.models import Hook, Service, Team
from incidents.services import hook_create


def _environment_map(pairs: list[str]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for pair in pairs:
        name, sep, slug = pair.partition("=")
        if not sep or not name or not slug:
            raise CommandError(f"--environment {pair!r}: give NAME=SLUG, e.g. production=prod ('*=prod' for all).")
        mapping[name] = slug
    return mapping


class Command(BaseCommand):
    help = (
        "Create a webhook receiver's hook for a team and print its URL and the secret or token to give the sender "
        "(shown once)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("source", choices=Hook.Source.values, help="The sender.")
        parser.add_argument(
            "name", help="What sends, e.g. 'pagerduty checkout' or the repository 'acme/checkout'."
        )
        parser.add_argument("--team", required=True, help="The slug of the team the hook acts for.")
        parser.add_argument("--service", help="The slug of the service every event is about (default: per event).")
        parser.add_argument(
            "--secret", help="The signing secret the sender shows (GitHub, PagerDuty, Sentry); default: a new one."
        )
        parser.add_argument(
            "--environment", action="append", default=[], metavar="NAME=SLUG",
            help="Map the sender's environment name to a Hindsight environment; '*=SLUG' for the rest. Repeatable.",
        )  # fmt: skip

    def handle(self, *args, source: str, name: str, team: str, service: str | None, secret: str | None,
               environment: list[str], **options) -> None:  # fmt: skip
        found = Team.objects.filter(slug=team).first()
        if found is None:
            known = ", ".join(Team.objects.values_list("slug", flat=True)) or "none yet"
            raise CommandError(f"No team with slug {team!r} (known: {known}).")
        service_found = None
        if service:
            service_found = Service.objects.filter(slug=service).first()
            if service_found is None:
                raise CommandError(f"No service with slug {service!r}.")
        try:
            with acting_as(label="command:create_hook"):
                created = hook_create(
                    source=source, name=name, team=found, service=service_found, secret=secret or "",
                    environment_map=_environment_map(environment),
                )  # fmt: skip
        except ValidationError as error:
            messages = "; ".join(f"{key}: {' '.join(msgs)}" for key, msgs in error.message_dict.items())
            raise CommandError(messages) from None
        hook = created.hook
        what = "secret" if hook.signed else "token"
        self.stderr.write(
            f"Created {hook.get_source_display()} hook {hook.name!r} for {found.slug}. Give the sender this URL and "
            f"{'signing secret' if hook.signed else 'bearer token'} (shown once; docs/receivers/{source}.md):"
        )
        self.stdout.write(f"url: {settings.SITE_URL}{reverse('api:hook-' + source)}")
        self.stdout.write(f"{what}: {created.secret}")
