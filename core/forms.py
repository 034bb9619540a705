"""Form helpers every app uses: crispy-forms' helper set up as the project uses it, a service's
refusal shown on its form, ordered lists edited without JavaScript, and a quick `<select>` of a
short list read once."""

from typing import cast

from crispy_forms.helper import FormHelper
from django import forms
from django.core.exceptions import ValidationError
from django.forms.models import ModelChoiceIterator
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

# What a form says when it was saved as it was: nothing changed, so nothing was recorded either.
NO_CHANGES = "No changes to save: it was already as you sent it."


def form_helper(layout=None) -> FormHelper:
    helper = FormHelper()
    helper.form_tag = False
    helper.disable_csrf = True
    if layout is not None:
        helper.layout = layout
    return helper


def add_validation_error(form, error: ValidationError) -> None:
    """Show a service's refusal on the form: by field where it names one of the form's fields."""
    if hasattr(error, "error_dict"):
        for field, field_errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, field_errors)
    else:
        form.add_error(None, error.messages)


class OrderedFormSet(forms.BaseFormSet):
    """A formset of list items that can be reordered by position number and removed, without JavaScript."""

    delete_label = "Remove"

    def add_fields(self, form, index):
        super().add_fields(form, index)
        form.fields["ORDER"].label = "Position"
        form.fields["DELETE"].label = self.delete_label


def ordered_formset(form_class, *, extra=3, formset=OrderedFormSet):
    return forms.formset_factory(
        form_class, formset=formset, extra=extra, can_order=True, can_delete=True, max_num=200, validate_max=True
    )


def ordered_values(formset) -> list[dict]:
    """The formset's items as dicts in the chosen order, without removed or empty ones."""
    return [form.cleaned_data for form in formset.ordered_forms if not form.cleaned_data.get("DELETE")]


SELECTED = SafeString(" selected")


class QuickSelect(forms.Select):
    """A `<select>` written in one pass, with the same markup as Django's template for it (no option groups).

    Django renders each `<option>` through a template of its own: a hundred services took milliseconds of a
    page. The attributes (`aria-describedby`, `aria-invalid`, the class) are the widget's, as ever."""

    def use_required_attribute(self, initial):
        # Django reads the first choice to decide (a query, for a model's choices); only a required field's
        # select is marked required.
        return self.is_required and super().use_required_attribute(initial)

    def render(self, name, value, attrs=None, renderer=None):
        # The widget's name and attributes as Django gives them, without its options (`ChoiceWidget.optgroups`
        # builds a dictionary of attributes for each): they are written here, the first chosen one selected.
        widget = forms.Widget.get_context(self, name, value, attrs)["widget"]
        chosen, selected = set(widget["value"]), False
        options = []
        for option_value, label in self.choices:
            if isinstance(label, (list, tuple)):
                raise ValueError("QuickSelect writes no option groups: use forms.Select")
            option_value = "" if option_value is None else str(option_value)
            select = not selected and option_value in chosen
            selected |= select
            options.append((option_value, SELECTED if select else "", label))
        return format_html(
            '<select name="{}"{}>{}\n</select>',
            widget["name"],
            flatatt(widget["attrs"]),
            format_html_join("", '\n  <option value="{}"{}>{}</option>', options),
        )


class _ListedChoices(ModelChoiceIterator):
    def __iter__(self):
        field = cast(ListedChoiceField, self.field)
        if field.empty_label is not None:
            yield ("", field.empty_label)
        for obj in field.listed:
            yield self.choice(obj)

    def __len__(self):
        field = cast(ListedChoiceField, self.field)
        return len(field.listed) + (field.empty_label is not None)


class ListedChoiceField(forms.ModelChoiceField):
    """A choice of one of a short list of records (a few cycles, a hundred services), shown with
    `QuickSelect`: the list is read once, in one query, for both checking the value and writing the
    options (Django reads it for each). A value not in the list is refused as `invalid_choice`."""

    iterator = _ListedChoices
    widget = QuickSelect

    @property
    def listed(self) -> list:
        # Each form has its own copy of the field and of its queryset (Django copies them), so its own list.
        queryset = self.queryset
        if getattr(self, "_listed_from", None) is not queryset:
            self._listed_from, self._listed = queryset, list(queryset if queryset is not None else [])
        return self._listed

    def to_python(self, value):
        if value in self.empty_values:
            return None
        key = self.to_field_name or "pk"
        if self.queryset is not None and isinstance(value, self.queryset.model):
            value = getattr(value, key)
        for obj in self.listed:
            if str(getattr(obj, key)) == str(value):
                return obj
        raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice", params={"value": value})
