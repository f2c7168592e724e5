"""The incident filters, shared by the web list, the API and the report charts' links.

Every filter is a query-string parameter, so a link reproduces a view. Repeat a parameter to select several
values (`?environment=dev&environment=staging`). Dates are local calendar days in TIME_ZONE, inclusive.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Cast
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field

from incidents.choices import plain_empty_choices
from incidents.limits import LIST_MAX, YEAR_PATTERN, validate_date_in_range
from incidents.models import Cause, Environment, Incident, IncidentCause, Service, Team
from incidents.search import search_incidents
from incidents.selectors import reference_lookup

SLUG_PATTERN = r"^[-a-zA-Z0-9_]{1,100}$"
SLUG_OR_NOTHING_PATTERN = r"^[-a-zA-Z0-9_]{0,100}$"  # in a list of slugs, an empty entry is no slug


class ChoicesField(forms.MultipleChoiceField):
    """Several choices; an empty value (`?status=`, what a form sends for "any") selects nothing, like no value."""

    def to_python(self, value) -> list[str]:
        chosen = [choice for choice in super().to_python(value) if choice]
        if len(chosen) > LIST_MAX:
            raise forms.ValidationError(f"Give at most {LIST_MAX} values.", code="max_items")
        return chosen


class ChoicesFilter(django_filters.MultipleChoiceFilter):
    """Several values of one column of the row: no SELECT DISTINCT, which would sort every match."""

    field_class = ChoicesField

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("distinct", False)
        super().__init__(*args, **kwargs)


class SlugListField(ChoicesField):
    """Slugs as typed. A value that is not shaped like a slug is an error naming the parameter; a slug that names
    nothing matches nothing, as a search would (a link to a renamed team shows an empty list, not an error)."""

    default_error_messages = {"invalid_choice": "“%(value)s” is not a slug (letters, digits, - and _)."}

    def valid_value(self, value: str) -> bool:
        return re.fullmatch(SLUG_PATTERN, value) is not None


@extend_schema_field({"type": "string", "pattern": SLUG_OR_NOTHING_PATTERN})
class SlugsFilter(ChoicesFilter):
    """Rows whose relation `field_name` (a foreign key path such as `team` or `release__service`) is one of the
    rows named by slug, repeatable: `?team=payments&team=platform`. The form offers the existing slugs as choices
    (the web list's pickers); any slug-shaped value is accepted, and one that names nothing matches nothing.

    The slugs become keys first (one small query), so the list query compares its own column with constants and
    gains no join: `team_id = 3::bigint OR team_id = 5::bigint`, typed like the column because the list's GIN
    index (btree_gin) takes only same-type comparisons, and a bare 3 is an integer."""

    field_class = SlugListField

    def __init__(self, *args, queryset: QuerySet, **kwargs) -> None:
        self.queryset = queryset
        kwargs.setdefault("choices", lambda: [(row.slug, str(row)) for row in queryset.all()])
        super().__init__(*args, **kwargs)

    def keys(self, slugs: list[str]) -> list[int]:
        return list(self.queryset.filter(slug__in=slugs).values_list("pk", flat=True))

    def filter(self, qs: QuerySet, value: list[str]) -> QuerySet:
        if not value:
            return qs
        keys = self.keys(value)
        if not keys:
            return qs.none()
        if "__" in self.field_name:
            return qs.filter(**{f"{self.field_name}__in": keys})
        column = self.model._meta.get_field(self.field_name).target_field
        matches = Q()
        for key in keys:
            matches |= Q(**{self.field_name: Cast(Value(key), output_field=column)})
        return qs.filter(matches)


class SortFilter(django_filters.OrderingFilter):
    """`?ordering=-started,number`. Empty entries (`?ordering=`, what a form sends for "default") are dropped, so
    they keep the default order rather than clearing it."""

    def filter(self, qs: QuerySet, value) -> QuerySet:
        return super().filter(qs, [field for field in value or [] if field])


# Dates outside these years bound nothing (and would overflow once moved to UTC).
BIGGEST_ID = 2**63 - 1


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": BIGGEST_ID})
class ReleaseIdFilter(django_filters.NumberFilter):
    """A release by id (a release page links here), typed in rather than picked: there can be thousands. An id
    that names no release matches nothing."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", BIGGEST_ID)
        super().__init__(*args, **kwargs)


@extend_schema_field({"type": "string", "format": "date", "pattern": YEAR_PATTERN})
class DayFilter(django_filters.DateFilter):
    """A calendar day (YYYY-MM-DD) in the years every door accepts (incidents/limits.py); another is a 400."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("validators", [validate_date_in_range])
        super().__init__(*args, **kwargs)


def _local_midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


class OnceEachForm(forms.Form):
    """A parameter that takes one value, given more than once (`?due_before=x&due_before=`), is an error naming it:
    which of them is meant would be a guess, and the last one silently winning hides a mistake. Repeatable
    parameters are the multiple-choice ones."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        plain_empty_choices(self, optional="Any")

    def clean(self) -> dict[str, Any] | None:
        cleaned = super().clean()
        getlist = getattr(self.data, "getlist", None)
        if getlist is not None:
            for name, field in self.fields.items():
                if not isinstance(field, forms.MultipleChoiceField) and len(getlist(name)) > 1:
                    self.add_error(name, "Give this parameter once.")
        return cleaned


class StrictFilterSet(django_filters.FilterSet):
    """The base of every filter set: its form refuses a one-value parameter given twice (OnceEachForm)."""

    def get_form_class(self) -> type[forms.Form]:
        fields = {name: filter_.field for name, filter_ in self.filters.items()}
        return type(f"{type(self).__name__}Form", (OnceEachForm,), fields)


class AnyYesNo(forms.NullBooleanSelect):
    """Yes, no, or either: Django's NullBooleanSelect says "Unknown" for either."""

    def __init__(self, attrs=None) -> None:
        super().__init__(attrs)
        self.choices = [("unknown", "Any"), ("true", "Yes"), ("false", "No")]


class IncidentFilter(StrictFilterSet):
    q = django_filters.CharFilter(method="filter_search", label="Search")  # words past 200 characters are ignored
    kind = django_filters.ChoiceFilter(choices=Incident.Kind.choices)
    status = ChoicesFilter(choices=Incident.Status.choices)
    counted = django_filters.BooleanFilter(
        widget=AnyYesNo, method="filter_counted", label="Counted in reports (not in triage, not dismissed)"
    )
    severity = ChoicesFilter(choices=Incident.Severity.choices)
    caught_by = ChoicesFilter(choices=Incident.CaughtBy.choices)
    environment = SlugsFilter(field_name="environment", queryset=Environment.objects.all(), label="Caught in")
    team = SlugsFilter(field_name="team", queryset=Team.objects.all())
    cause = SlugsFilter(queryset=Cause.objects.all(), method="filter_cause")
    gate = django_filters.ChoiceFilter(
        choices=IncidentCause.Gate.choices, method="filter_cause", label="Gate that should have caught a cause"
    )
    service = SlugsFilter(queryset=Service.objects.all(), method="filter_service")
    release = ReleaseIdFilter(method="filter_release")
    started_from = DayFilter(method="filter_started_from", label="Started on or after")
    started_to = DayFilter(method="filter_started_to", label="Started on or before")
    ordering = SortFilter(
        fields=(
            ("started_at", "started"),
            ("severity", "severity"),
            ("number", "number"),
            ("updated_at", "updated"),
        ),
        empty_label="Latest started first",
    )

    class Meta:
        model = Incident
        fields: list[str] = []

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        # A reference (INC-7, NM-12, CNM-3) finds that item among those the viewer may see; words search text.
        try:
            named = reference_lookup(value)
        except Incident.DoesNotExist:
            return search_incidents(queryset, value)
        return queryset.filter(named)

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
            tags = tags.filter(cause__in=Cause.objects.filter(slug__in=causes).values("pk"))
        if gate:
            tags = tags.filter(gate=gate)
        return queryset.filter(Exists(tags))

    def filter_service(self, queryset: QuerySet, name: str, value) -> QuerySet:
        if not value:
            return queryset
        services = Service.objects.filter(slug__in=value).values("pk")
        links = Incident.services.through.objects.filter(incident=OuterRef("pk"), service__in=services)
        return queryset.filter(Exists(links))

    def filter_release(self, queryset: QuerySet, name: str, value: int | None) -> QuerySet:
        if value is None:
            return queryset
        links = Incident.releases.through.objects.filter(incident=OuterRef("pk"), release_id=value)
        return queryset.filter(Exists(links))

    def filter_started_from(self, queryset: QuerySet, name: str, value: dt.date | None) -> QuerySet:
        if not value:
            return queryset
        return queryset.filter(started_at__gte=_local_midnight(value))

    def filter_started_to(self, queryset: QuerySet, name: str, value: dt.date | None) -> QuerySet:
        if not value:
            return queryset
        return queryset.filter(started_at__lt=_local_midnight(value + dt.timedelta(days=1)))


class TriageFilter(StrictFilterSet):
    """The triage inbox's filters: where an item came from, its team and its environment; newest first unless
    asked otherwise. `sources` are the sources found in the person's inbox (the source picker's choices)."""

    source = django_filters.ChoiceFilter(choices=[], label="Source")
    team = SlugsFilter(field_name="team", queryset=Team.objects.all(), label="Teams")
    environment = SlugsFilter(field_name="environment", queryset=Environment.objects.all(), label="Environment")
    order = django_filters.ChoiceFilter(
        choices=[("oldest", "Oldest first")], empty_label="Newest first", method="filter_order", label="Order"
    )

    class Meta:
        model = Incident
        fields: list[str] = []

    def __init__(self, *args, sources: list[str], teams: QuerySet[Team], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.filters["team"].queryset = teams
        self.filters["team"].extra["choices"] = lambda: [(row.slug, str(row)) for row in teams]
        self.form.fields["source"].choices = [("", "Any"), *((source, source) for source in sources)]

    def filter_order(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.order_by("created_at", "id") if value == "oldest" else queryset
