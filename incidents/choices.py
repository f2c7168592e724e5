"""Choices as every door's forms offer them: an empty choice said in words (Django offers "---------" for an unset
select), and rows chosen by id."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

DJANGO_BLANK = "---------"


def plain_empty_choices(form: forms.BaseForm, *, optional: str = "Not set", required: str = "Choose one") -> None:
    """Replace Django's "---------" in every select of `form`: `optional` where the field may stay empty (a filter
    passes "Any"), `required` where a value must be chosen. Safe to call again after fields are added."""
    for field in form.fields.values():
        label = required if field.required else optional
        if not isinstance(field, forms.ChoiceField) or isinstance(field, forms.MultipleChoiceField):
            continue  # (a multiple choice has no empty entry, and listing its choices may cost a query)
        if isinstance(field, forms.ModelChoiceField) or hasattr(field, "empty_label"):
            # (django-filter's choice fields add their empty entry from `empty_label` too.)
            if getattr(field, "empty_label", None) == DJANGO_BLANK:
                field.empty_label = label
                if not isinstance(field, forms.ModelChoiceField):
                    # A copied form's widget still lists the choices through the original field: renew them.
                    field.widget.choices = field.choices
        else:
            choices = list(field.choices)  # type: ignore[arg-type]  # static choices: Django normalised them
            if choices and choices[0][0] in ("", None) and choices[0][1] == DJANGO_BLANK:
                field.choices = [("", label), *choices[1:]]


class IdsChoiceField(forms.ModelMultipleChoiceField):
    """Several rows by id; a value that cannot be an id is a form error, never a database error."""

    def _check_values(self, value):
        for item in value:
            if not str(item).isdigit() or len(str(item)) > 9:
                raise ValidationError(
                    self.error_messages["invalid_pk_value"], code="invalid_pk_value", params={"pk": item}
                )
        return super()._check_values(value)  # type: ignore[misc]  # Django's private method, absent from the stubs
