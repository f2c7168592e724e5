"""Filters of the API's lists other than incidents (those use incidents.filters.IncidentFilter)."""

from __future__ import annotations

import datetime as dt
import re

import django_filters
from django_filters.fields import IsoDateTimeField
from drf_spectacular.utils import extend_schema_field
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter

from incidents.filters import ChoicesFilter, DayFilter, SlugsFilter, SortFilter, StrictFilterSet
from incidents.limits import YEAR_PATTERN, validate_date_in_range
from incidents.models import ActionItem, Deployment, Environment, Release, Service, Team


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 time in the years every door accepts (incidents/limits.py; judged on the year as written, as
    the schema's pattern is), in UTC before it reaches the database: PostgreSQL refuses UTC offsets beyond 15:59,
    which ISO 8601 allows."""

    def to_python(self, value):
        parsed = super().to_python(value)
        if parsed is None or parsed.tzinfo is None:
            return parsed
        validate_date_in_range(parsed.replace(tzinfo=None))
        return parsed.astimezone(dt.UTC)


@extend_schema_field({"type": "string", "format": "date-time", "pattern": YEAR_PATTERN})
class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class ReleaseFilter(StrictFilterSet):
    service = SlugsFilter(field_name="service", queryset=Service.objects.all())
    version = django_filters.CharFilter()
    commit_sha = django_filters.CharFilter()
    created_from = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    ordering = SortFilter(fields=(("created_at", "created"), ("version", "version")))

    class Meta:
        model = Release
        fields: list[str] = []


class DeploymentFilter(StrictFilterSet):
    service = SlugsFilter(field_name="release__service", queryset=Service.objects.all())
    version = django_filters.CharFilter(field_name="release__version")
    environment = SlugsFilter(field_name="environment", queryset=Environment.objects.all())
    status = ChoicesFilter(choices=Deployment.Status.choices)
    deployed_from = UtcIsoDateTimeFilter(field_name="deployed_at", lookup_expr="gte")
    deployed_to = UtcIsoDateTimeFilter(field_name="deployed_at", lookup_expr="lt")
    ordering = SortFilter(fields=(("deployed_at", "deployed"),))

    class Meta:
        model = Deployment
        fields: list[str] = []


class ActionItemFilter(StrictFilterSet):
    status = ChoicesFilter(choices=ActionItem.Status.choices)
    team = SlugsFilter(field_name="team", queryset=Team.objects.all())
    incident_team = SlugsFilter(
        field_name="incident__team", queryset=Team.objects.all(), label="Team of the incident"
    )
    due_before = DayFilter(field_name="due_date", lookup_expr="lt")
    ordering = SortFilter(fields=(("due_date", "due"), ("created_at", "created")))

    class Meta:
        model = ActionItem
        fields: list[str] = []


class StrictOrderingFilter(OrderingFilter):
    """`?ordering=name,-slug` over the view's `ordering_fields`. Unlike DRF's, which ignores what it does not know,
    an unknown field or a repeated parameter is a 400 naming `ordering`, and the schema lists the accepted values."""

    def get_ordering(self, request, queryset, view):
        values = request.query_params.getlist(self.ordering_param)
        if not values or values == [""]:
            return self.get_default_ordering(view)
        allowed = self._allowed(view)
        fields = [field.strip() for field in values[0].split(",")]
        if len(values) > 1 or not fields or any(field not in allowed for field in fields):
            raise ValidationError(
                {self.ordering_param: [f"Use one or more of {', '.join(allowed)}, comma-separated."]}
            )
        return fields

    @staticmethod
    def _allowed(view) -> list[str]:
        return [prefix + field for field in view.ordering_fields for prefix in ("", "-")]

    def get_schema_operation_parameters(self, view) -> list[dict]:
        allowed = "|".join(re.escape(field) for field in view.ordering_fields)
        return [
            {
                "name": self.ordering_param,
                "required": False,
                "in": "query",
                "description": f"Sort by {', '.join(view.ordering_fields)}; prefix - to reverse, comma-separate several.",
                "schema": {"type": "string", "pattern": rf"^(-?({allowed})(,-?({allowed}))*)?$"},
            }
        ]
