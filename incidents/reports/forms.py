"""Forms of the report pages: they validate input and name the field at fault."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from incidents.models import Team, TrendReport
from incidents.reports.weeks import Week


class GenerateReportForm(forms.Form):
    week = forms.CharField(max_length=8, help_text="An ISO week such as 2026-W47.")
    scope = forms.ChoiceField(label="For")

    def __init__(self, *args, teams: list[Team], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["scope"].choices = [(TrendReport.ORGANISATION, "The organisation")] + [
            (f"team:{team.slug}", team.name) for team in teams
        ]
        self.fields["week"].initial = Week.last().label

    def clean_week(self) -> Week:
        try:
            week = Week.parse(self.cleaned_data["week"])
        except ValidationError as error:
            raise ValidationError(error.message_dict["week"]) from None
        if week > Week.current():
            raise ValidationError(f"{week.label} has not started yet.")
        return week

    def team(self) -> Team | None:
        scope = self.cleaned_data["scope"]
        return None if scope == TrendReport.ORGANISATION else Team.objects.get(slug=scope.removeprefix("team:"))


class SubscriptionForm(forms.Form):
    subscribed = forms.BooleanField(required=False, label="E-mail me the weekly trend digest")
