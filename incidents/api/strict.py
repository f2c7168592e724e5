"""JSON types as the schema publishes them: a number where text belongs is a 400, not text.

DRF coerces on input (the number 0 becomes the text "0", the text "5" the number 5, "yes" a boolean), which suits
HTML forms but hides client bugs in a JSON API and makes the API accept bodies its own OpenAPI schema calls
invalid. StrictJsonMixin checks the raw JSON types of a write body against its serializer's fields, nested
serializers, lists and dicts included, before DRF converts anything; the error names each field to fix.
"""

from __future__ import annotations

from typing import Any

from rest_framework import fields, relations, serializers
from rest_framework.exceptions import ValidationError

TEXT_FIELDS = (fields.CharField, fields.DateTimeField, fields.DateField, fields.TimeField, fields.DurationField)
NUMBER_FIELDS = (fields.FloatField, fields.DecimalField)
TEXT_RELATIONS = (relations.SlugRelatedField, relations.HyperlinkedRelatedField)


def _type_error(field: fields.Field, value: Any) -> str | None:
    """What is wrong with the JSON type of `value` for `field`, or None when it has the right type."""
    if value is None:
        return None  # allow_null is DRF's to check
    if isinstance(field, fields.BooleanField):
        return None if isinstance(value, bool) else "Must be true or false."
    if isinstance(field, fields.IntegerField):
        return None if isinstance(value, int) and not isinstance(value, bool) else "Must be a whole number."
    if isinstance(field, NUMBER_FIELDS):
        return None if isinstance(value, int | float) and not isinstance(value, bool) else "Must be a number."
    if isinstance(field, TEXT_FIELDS + TEXT_RELATIONS):
        return None if isinstance(value, str) else "Must be a string."
    if isinstance(field, fields.ChoiceField) and all(isinstance(choice, str) for choice in field.choices):
        return None if isinstance(value, str) else "Must be a string."
    return None


def json_type_errors(field: fields.Field, value: Any) -> Any:
    """The errors of `value` against `field`, shaped as DRF shapes errors (a dict, a list or a message list)."""
    if value is None:
        return None
    if isinstance(field, serializers.ListSerializer | fields.ListField | relations.ManyRelatedField):
        if not isinstance(value, list):
            return ["Must be a list."]
        child = field.child if not isinstance(field, relations.ManyRelatedField) else field.child_relation
        if child is None:  # no child field: nothing to check an item against
            return None
        errors: dict[int | str, Any] = {index: json_type_errors(child, item) for index, item in enumerate(value)}
        return {index: error for index, error in errors.items() if error} or None
    if isinstance(field, fields.DictField):
        if not isinstance(value, dict):
            return ["Must be an object."]
        errors = {key: json_type_errors(field.child, item) for key, item in value.items()}
        return {key: error for key, error in errors.items() if error} or None
    if isinstance(field, serializers.Serializer):
        if not isinstance(value, dict):
            return ["Must be an object."]
        errors = {
            name: json_type_errors(child, value[name])
            for name, child in field.fields.items()
            if not child.read_only and name in value
        }
        return {name: error for name, error in errors.items() if error} or None
    if isinstance(field, fields.JSONField):
        return None
    message = _type_error(field, value)
    return [message] if message else None


class StrictJsonMixin(serializers.Serializer):
    # Refuses a body whose JSON types differ from the fields' before DRF coerces them (see the module). No
    # docstring on purpose: drf-spectacular would show it as the description of every write body.

    def to_internal_value(self, data: Any) -> Any:
        errors = json_type_errors(self, data) if isinstance(data, dict) else None  # else DRF's own error
        if errors:
            raise ValidationError(errors)
        return super().to_internal_value(data)
