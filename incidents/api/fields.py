"""Serializer fields that carry Hindsight's input limits (incidents/limits.py) into the API and its schema."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from incidents.filters import SLUG_PATTERN
from incidents.limits import (
    DATE_RANGE_TEXT,
    LIST_MAX,
    SINGLE_LINE_MESSAGE,
    SINGLE_LINE_PATTERN,
    YEAR_PATTERN,
    date_in_range,
    validate_single_line,
)

if TYPE_CHECKING:
    from incidents.models import Cause, Environment, Service, Team

    SlugNamed = Cause | Environment | Service | Team  # the models whose rows are named by a slug


class OneLineField(serializers.RegexField):
    """One line of printable text: the schema's pattern says so, and the check is exact (a pattern's `$` would
    let a final line break through)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("error_messages", {"invalid": SINGLE_LINE_MESSAGE})
        super().__init__(SINGLE_LINE_PATTERN, **kwargs)
        self.validators.append(validate_single_line)


class _InRange(serializers.Field):
    """Listed before the date field class it checks (which is what super() then is)."""

    def to_internal_value(self, value):
        parsed = super().to_internal_value(value)
        if not date_in_range(parsed):
            raise serializers.ValidationError(f"Give a date {DATE_RANGE_TEXT}.", code="date_out_of_range")
        return parsed


@extend_schema_field({"type": "string", "format": "date-time", "pattern": YEAR_PATTERN})
class InRangeDateTimeField(_InRange, serializers.DateTimeField):
    """An ISO 8601 time in the years every door accepts."""


@extend_schema_field({"type": "string", "format": "date", "pattern": YEAR_PATTERN})
class InRangeDateField(_InRange, serializers.DateField):
    """A calendar day in the years every door accepts."""


class SlugRefsField(serializers.ListField):
    """Up to LIST_MAX objects named by slug, resolved in one query; repeats collapse to one, and every slug that
    names nothing is listed in the error."""

    def __init__(self, *, model: type[SlugNamed], **kwargs: Any) -> None:
        self.model = model
        kwargs.setdefault("max_length", LIST_MAX)
        kwargs.setdefault("child", serializers.RegexField(SLUG_PATTERN, max_length=100))
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> list[SlugNamed]:
        if isinstance(data, list) and self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)  # before any work on the items
        slugs: Sequence[str] = list(dict.fromkeys(super().to_internal_value(data)))
        found = {row.slug: row for row in self.model._default_manager.filter(slug__in=slugs)}
        unknown = [slug for slug in slugs if slug not in found]
        if unknown:
            raise serializers.ValidationError(
                f"No {self.model._meta.verbose_name} with the slug: {', '.join(unknown)}."
            )
        return [found[slug] for slug in slugs]

    def to_representation(self, value: Any) -> list[str]:
        return [row.slug for row in value.all()] if hasattr(value, "all") else [row.slug for row in value]
