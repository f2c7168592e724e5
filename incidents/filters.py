"""The incident filters, shared by the web list, the API and the report charts' links.

Every filter is a query-string parameter, so a link reproduces a view. Repeat a parameter to select several
values (`?environment=dev&environment=staging`). Dates are local calendar days in TIME_ZONE, inclusive.
"""

from __future__ import annotations

import datetime as dt

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Cast
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from incidents.models import Cause, Environment, Incident, IncidentCause, Release, Service, Team
from incidents.search import search_incidents


@extend_schema_field(OpenApiTypes.STR)
class SlugsFilter(django_filters.ModelMultipleChoiceFilter):
    """Rows chosen by slug, repeatable: `?team=payments&team=platform`. Documented as strings in the API schema."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("to_field_name", "slug")
        super().__init__(*args, **kwargs)

    def get_filter_predicate(self, v) -> dict:
        # On a foreign key (field_name without "__") compare the column with the chosen row's key, no join:
        # team_id = 3::bigint. Typed like the column, because the list's GIN index (btree_gin, migration 0009)
        # takes only same-type comparisons, and a bare 3 is an integer.
        if "__" not in self.field_name:
            key = self.model._meta.get_field(self.field_name).target_field
            return {self.field_name: Cast(Value(v.pk), output_field=key)}
        return super().get_filter_predicate(v)


# Dates outside these years bound nothing (and would overflow once moved to UTC).
EARLIEST, LATEST = dt.date(1000, 1, 1), dt.date(9998, 12, 31)
BIGGEST_ID = 2**63 - 1


class _ReleaseIdField(django_filters.fields.ModelChoiceField):
    def to_python(self, value):
        if value not in self.empty_values and (not str(value).isdigit() or int(value) > BIGGEST_ID):
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return super().to_python(value)


@extend_schema_field(OpenApiTypes.INT)
class ReleaseIdFilter(django_filters.ModelChoiceFilter):
    """A release by id (a release page links here), typed in rather than picked: there can be thousands."""

    field_class = _ReleaseIdField


def _local_midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


class IncidentFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_search", label="Search", max_length=200)
    kind = django_filters.ChoiceFilter(choices=Incident.Kind.choices)
    # Columns of the incident row itself cannot repeat a row: no SELECT DISTINCT (it would sort every match).
    status = django_filters.MultipleChoiceFilter(choices=Incident.Status.choices, distinct=False)
    counted = django_filters.BooleanFilter(
        method="filter_counted", label="Counted in reports (not in triage, not dismissed)"
    )
    severity = django_filters.MultipleChoiceFilter(choices=Incident.Severity.choices, distinct=False)
    caught_by = django_filters.MultipleChoiceFilter(choices=Incident.CaughtBy.choices, distinct=False)
    environment = SlugsFilter(
        field_name="environment", queryset=Environment.objects.all(), label="Caught in", distinct=False
    )
    team = SlugsFilter(field_name="team", queryset=Team.objects.all(), distinct=False)
    cause = SlugsFilter(to_field_name="slug", queryset=Cause.objects.all(), method="filter_cause")
    gate = django_filters.ChoiceFilter(
        choices=IncidentCause.Gate.choices, method="filter_cause", label="Gate that should have caught a cause"
    )
    service = SlugsFilter(to_field_name="slug", queryset=Service.objects.all(), method="filter_service")
    release = ReleaseIdFilter(
        queryset=Release.objects.select_related("service"), method="filter_release", widget=forms.NumberInput
    )
    started_from = django_filters.DateFilter(method="filter_started_from", label="Started on or after")
    started_to = django_filters.DateFilter(method="filter_started_to", label="Started on or before")
    ordering = django_filters.OrderingFilter(
        fields=(
            ("started_at", "started"),
            ("severity", "severity"),
            ("number", "number"),
            ("updated_at", "updated"),
        )
    )

    class Meta:
        model = Incident
        fields: list[str] = []

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return search_incidents(queryset, value)

    def filter_counted(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        if value is None:
            return queryset
        uncounted = Q(status__in=Incident.UNCOUNTED_STATUSES)
        return queryset.exclude(uncounted) if value else queryset.filter(uncounted)

    def filter_cause(self, queryset: QuerySet, name: str, value) -> QuerySet:
        # Cause and gate filter the same IncidentCause row: "missing-check that CI should have caught".
        causes = self.form.cleaned_data.get("cause")
        gate = self.form.cleaned_data.get("gate")
        if name == "gate" and causes:
            return queryset  # applied together with the cause filter
        if not causes and not gate:
            return queryset
        tags = IncidentCause.objects.filter(incident=OuterRef("pk"))
        if causes:
            tags = tags.filter(cause__in=causes)
        if gate:
            tags = tags.filter(gate=gate)
        return queryset.filter(Exists(tags))

    def filter_service(self, queryset: QuerySet, name: str, value) -> QuerySet:
        if not value:
            return queryset
        links = Incident.services.through.objects.filter(incident=OuterRef("pk"), service__in=value)
        return queryset.filter(Exists(links))

    def filter_release(self, queryset: QuerySet, name: str, value: Release | None) -> QuerySet:
        if value is None:
            return queryset
        links = Incident.releases.through.objects.filter(incident=OuterRef("pk"), release=value)
        return queryset.filter(Exists(links))

    def filter_started_from(self, queryset: QuerySet, name: str, value: dt.date | None) -> QuerySet:
        if not value or value < EARLIEST:
            return queryset
        return queryset.filter(started_at__gte=_local_midnight(min(value, LATEST)))

    def filter_started_to(self, queryset: QuerySet, name: str, value: dt.date | None) -> QuerySet:
        if not value or value >= LATEST:
            return queryset
        return queryset.filter(started_at__lt=_local_midnight(max(value, EARLIEST) + dt.timedelta(days=1)))
