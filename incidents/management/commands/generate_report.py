"""Generate one week's trend report synchronously, with the same service the Celery task runs."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from incidents.models import Team, TrendReport
from incidents.services.reports import report_generate, report_url
from incidents.weeks import Week


class Command(BaseCommand):
    help = (
        "Generate (or regenerate) the trend report of an ISO week for the organisation or one team, for both"
        " audiences (everyone, and with confidential near-misses)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--week", help="ISO week such as 2026-W47. Default: last week.")
        parser.add_argument("--team", help="Team slug. Default: the organisation.")
        parser.add_argument("--all-teams", action="store_true", help="Also generate every team's report.")

    def handle(self, *args, week: str | None, team: str | None, all_teams: bool, **options) -> None:
        try:
            parsed = Week.parse(week) if week else Week.last()
        except ValidationError as error:
            raise CommandError(f"--week: {error.message_dict['week'][0]}") from None
        if parsed > Week.current():
            raise CommandError(f"--week: {parsed.label} has not started yet.")
        if team and all_teams:
            raise CommandError("Give either --team or --all-teams, not both.")
        scopes: list[Team | None]
        if team:
            found = Team.objects.filter(slug=team).first()
            if found is None:
                known = ", ".join(Team.objects.order_by("slug").values_list("slug", flat=True)) or "none"
                raise CommandError(f"--team: no team with slug {team!r} (known: {known}).")
            scopes = [found]
        else:
            scopes = [None, *Team.objects.order_by("name")] if all_teams else [None]
        for scope in scopes:
            report = report_generate(week=parsed, team=scope)
            self._print(report)

    def _print(self, report: TrendReport) -> None:
        self.stdout.write(
            self.style.SUCCESS(f"{report.week_label} {report.scope}: {report.status}")
            + f" (everyone and confidential)  {report_url(report)}"
        )
