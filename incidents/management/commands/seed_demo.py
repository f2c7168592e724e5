from __future__ import annotations

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from incidents.demo import DEMO_PASSWORD, DEMO_REPORT_WEEKS, DEMO_USERNAME, seed_demo, seed_demo_reports
from incidents.models import Incident, TrendReport

MAX_REPORT_WEEKS = 26


class Command(BaseCommand):
    help = "Load deterministic synthetic demo data: teams, people, services, releases and incidents."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--incidents", type=int, default=2000, help="How many incidents and near-misses to add."
        )
        parser.add_argument("--weeks", type=int, default=26, help="Spread them over this many past weeks.")
        parser.add_argument("--seed", type=int, default=1, help="Random seed; the same seed gives the same data.")
        parser.add_argument(
            "--report-weeks",
            type=int,
            default=DEMO_REPORT_WEEKS,
            help=f"Generate the trend reports of this many recent weeks (0 for none, at most {MAX_REPORT_WEEKS}).",
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Add no items when incidents already exist (but generate the reports when there are none).",
        )

    def handle(
        self, *args, incidents: int, weeks: int, seed: int, report_weeks: int, if_empty: bool, **options
    ) -> None:
        if settings.HINDSIGHT_ENV == "production":
            raise CommandError("seed_demo adds people with a published password; it does not run in production.")
        if incidents < 0:
            raise CommandError("--incidents must be 0 or more.")
        if weeks < 1:
            raise CommandError("--weeks must be 1 or more.")
        if not 0 <= report_weeks <= MAX_REPORT_WEEKS:
            raise CommandError(f"--report-weeks must be between 0 and {MAX_REPORT_WEEKS}.")
        if if_empty and Incident.objects.exists():
            self.stdout.write("Demo data already loaded; nothing to do.")
            if report_weeks and not TrendReport.objects.exists():
                self._reports(report_weeks)
        else:
            began = time.monotonic()
            result = seed_demo(incidents=incidents, weeks=weeks, seed=seed)
            self.stdout.write(
                f"Added {result.incidents} incidents, {result.near_misses} near-misses, {result.action_items} action"
                f" items, {result.releases} releases and {result.deployments} deployments; new base data:"
                f" {result.teams} teams, {result.services} services, {result.users} people"
                f" ({time.monotonic() - began:.1f}s)."
            )
            self._reports(min(report_weeks, weeks))
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo login: {DEMO_USERNAME} / {DEMO_PASSWORD} (every demo person"
                f" uses the password {DEMO_PASSWORD!r})"
            )
        )

    def _reports(self, weeks: int) -> None:
        """The trend reports of the recent weeks, so that /reports/ has something to show on a new instance."""
        if not weeks:
            return
        began = time.monotonic()
        generated = seed_demo_reports(weeks=weeks)
        self.stdout.write(
            f"Generated the trend reports of the last {weeks} week{'s' * (weeks != 1)}: {generated} reports"
            f" (organisation and teams, each for both audiences) ({time.monotonic() - began:.1f}s)."
        )
