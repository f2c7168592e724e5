"""Filters of the API's lists other than incidents (those use incidents.filters.IncidentFilter)."""

from __future__ import annotations

import datetime as dt

import django_filters
from django_filters.fields import IsoDateTimeField

from incidents.filters import ChoicesFilter, SlugsFilter
from incidents.models import ActionItem, Deployment, Environment, Release, Service, Team


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 time, in UTC before it reaches the database: PostgreSQL refuses UTC offsets beyond 15:59,
    which ISO 8601 allows. A time whose UTC equivalent leaves the representable years (0001-01-01T00:00+23:59)
    bounds nothing, so it becomes the first or last representable moment."""

    def to_python(self, value):
        parsed = super().to_python(value)
        if parsed is None or parsed.tzinfo is None:
            return parsed
        try:
            return parsed.astimezone(dt.UTC)
        except OverflowError:
            return (dt.datetime.min if parsed.year == dt.MINYEAR else dt.datetime.max).replace(tzinfo=dt.UTC)


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class ReleaseFilter(django_filters.FilterSet):
    service = SlugsFilter(field_name="service", queryset=Service.objects.all())
    version = django_filters.CharFilter()
    commit_sha = django_filters.CharFilter()
    created_from = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    ordering = django_filters.OrderingFilter(fields=(("created_at", "created"), ("version", "version")))

    class Meta:
        model = Release
        fields: list[str] = []


class DeploymentFilter(django_filters.FilterSet):
    service = SlugsFilter(field_name="release__service", queryset=Service.objects.all())
    version = django_filters.CharFilter(field_name="release__version")
    environment = SlugsFilter(field_name="environment", queryset=Environment.objects.all())
    status = ChoicesFilter(choices=Deployment.Status.choices)
    deployed_from = UtcIsoDateTimeFilter(field_name="deployed_at", lookup_expr="gte")
    deployed_to = UtcIsoDateTimeFilter(field_name="deployed_at", lookup_expr="lt")
    ordering = django_filters.OrderingFilter(fields=(("deployed_at", "deployed"),))

    class Meta:
        model = Deployment
        fields: list[str] = []


class ActionItemFilter(django_filters.FilterSet):
    status = ChoicesFilter(choices=ActionItem.Status.choices)
    team = SlugsFilter(field_name="team", queryset=Team.objects.all())
    incident_team = SlugsFilter(
        field_name="incident__team", queryset=Team.objects.all(), label="Team of the incident"
    )
    due_before = django_filters.DateFilter(field_name="due_date", lookup_expr="lt")
    ordering = django_filters.OrderingFilter(fields=(("due_date", "due"), ("created_at", "created")))

    class Meta:
        model = ActionItem
        fields: list[str] = []
