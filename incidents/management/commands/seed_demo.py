from __future__ import annotations

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from incidents.demo import DEMO_PASSWORD, DEMO_USERNAME, seed_demo
from incidents.models import Incident


class Command(BaseCommand):
    help = "Load deterministic synthetic demo data: teams, people, services, releases and incidents."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--incidents", type=int, default=2000, help="How many incidents and near-misses to add."
        )
        parser.add_argument("--weeks", type=int, default=26, help="Spread them over this many past weeks.")
        parser.add_argument("--seed", type=int, default=1, help="Random seed; the same seed gives the same data.")
        parser.add_argument("--if-empty", action="store_true", help="Do nothing when incidents already exist.")

    def handle(self, *args, incidents: int, weeks: int, seed: int, if_empty: bool, **options) -> None:
        if settings.HINDSIGHT_ENV == "production":
            raise CommandError("seed_demo adds people with a published password; it does not run in production.")
        if incidents < 0:
            raise CommandError("--incidents must be 0 or more.")
        if weeks < 1:
            raise CommandError("--weeks must be 1 or more.")
        if if_empty and Incident.objects.exists():
            self.stdout.write("Demo data already loaded; nothing to do.")
        else:
            began = time.monotonic()
            result = seed_demo(incidents=incidents, weeks=weeks, seed=seed)
            self.stdout.write(
                f"Added {result.incidents} incidents, {result.near_misses} near-misses, {result.action_items} action"
                f" items, {result.releases} releases and {result.deployments} deployments; new base data:"
                f" {result.teams} teams, {result.services} services, {result.users} people"
                f" ({time.monotonic() - began:.1f}s)."
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo login: {DEMO_USERNAME} / {DEMO_PASSWORD} (every demo person"
                f" uses the password {DEMO_PASSWORD!r})"
            )
        )
