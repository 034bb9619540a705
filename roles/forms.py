import datetime

from crispy_forms.layout import Column, Field, Layout, Row
from django import forms
from django.utils import timezone

from competencies.windows import window_description
from core.forms import form_helper
from core.text import normalise_text
from roles.models import CHANGE_NOTE_MAX_LENGTH, RoleProfileVersion

WINDOW_NOT_REQUIRED = ""


class RoleProfileCreateForm(forms.Form):
    title = forms.CharField(
        max_length=200, help_text="As the document heads it, e.g. “Support Worker (Supported Housing)”."
    )
    slug = forms.SlugField(
        label="Web address",
        required=False,
        help_text="Letters, numbers and hyphens; leave empty to make it from the title.",
    )

    helper = form_helper()


class VersionDetailsForm(forms.ModelForm):
    class Meta:
        model = RoleProfileVersion
        fields = [
            "title",
            "service",
            "location",
            "introduction",
            "purpose",
            "context",
            "supervisor",
            "peers",
            "direct_reports",
        ]
        widgets = {
            "introduction": forms.Textarea(attrs={"rows": 3}),
            "purpose": forms.Textarea(attrs={"rows": 4}),
            "context": forms.Textarea(attrs={"rows": 8}),
        }
        help_texts = {
            "purpose": "Paragraphs separated by a blank line.",
            "context": "Paragraphs separated by a blank line.",
        }

    helper = form_helper()


class OrderedItemForm(forms.Form):
    """One item of an ordered list; formsets add ORDER (position) and DELETE (remove)."""

    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=2000)

    helper = form_helper(
        Layout(
            Row(
                Column(Field("text"), css_class="col-md-8"),
                Column("ORDER", css_class="col-6 col-md-2"),
                Column("DELETE", css_class="col-6 col-md-2 pt-md-4"),
            )
        )
    )


class PersonSpecificationItemForm(forms.Form):
    category = forms.CharField(
        max_length=100, required=False, help_text="e.g. Skills, Knowledge, Experience, Values, Other"
    )
    essential = forms.TypedChoiceField(
        label="Essential or desirable",
        choices=[("1", "Essential"), ("0", "Desirable")],
        coerce=lambda v: v == "1",
        initial="1",
    )
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=2000)

    helper = form_helper(
        Layout(
            Row(
                Column("category", css_class="col-md-3"),
                Column("essential", css_class="col-md-2"),
                Column("text", css_class="col-md-5"),
                Column("ORDER", css_class="col-6 col-md-1"),
                Column("DELETE", css_class="col-6 col-md-1 pt-md-4"),
            )
        )
    )

    def clean(self):
        super().clean()
        data = self.cleaned_data
        if data.get("text", "").strip() and not data.get("category", "").strip():
            self.add_error("category", "Give the category this item belongs to.")
        return data


class OrganisationSectionForm(forms.Form):
    heading = forms.CharField(max_length=200, required=False, help_text="e.g. Team Structure, Values")
    items = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False, help_text="One item per line.")
    text = forms.CharField(label="Closing paragraph", widget=forms.Textarea(attrs={"rows": 2}), required=False)

    helper = form_helper(
        Layout(
            Row(
                Column("heading", css_class="col-md-3"),
                Column("items", css_class="col-md-5"),
                Column("text", css_class="col-md-2"),
                Column("ORDER", css_class="col-6 col-md-1"),
                Column("DELETE", css_class="col-6 col-md-1 pt-md-4"),
            )
        )
    )

    def clean(self):
        super().clean()
        data = self.cleaned_data
        if (data.get("items", "").strip() or data.get("text", "").strip()) and not data.get("heading", "").strip():
            self.add_error("heading", "Give this section a heading.")
        return data


class WindowsForm(forms.Form):
    """Per competency, the required window among those its levels allow, or not required."""

    def __init__(self, *args, competencies, current: dict[int, int], **kwargs):
        super().__init__(*args, **kwargs)
        self.competencies = competencies
        for competency in competencies:
            choices = [(WINDOW_NOT_REQUIRED, "Not required")] + [
                (str(entry), window_description(entry)) for entry in competency.valid_entry_levels()
            ]
            self.fields[self.field_name(competency)] = forms.ChoiceField(
                label=competency.name,
                choices=choices,
                required=False,
                initial=str(current[competency.pk]) if competency.pk in current else WINDOW_NOT_REQUIRED,
            )

    @staticmethod
    def field_name(competency) -> str:
        return f"competency_{competency.pk}"

    def entry_levels(self) -> dict[int, int | None]:
        return {
            c.pk: int(self.cleaned_data[self.field_name(c)]) if self.cleaned_data[self.field_name(c)] else None
            for c in self.competencies
        }


class PublishForm(forms.Form):
    note = forms.CharField(
        label="What changed",
        max_length=CHANGE_NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="A short note kept with the version and shown in its history, "
        "e.g. “Customer Care window now 2–4; purpose reworded.”",
        error_messages={"required": "Say briefly what changed in this version."},
    )
    document_date = forms.DateField(
        label="Date of this version",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text="The date the role profile carries (shown as month and year). It stays the date of the version "
        "this draft replaces unless you change it here; empty for an undated document.",
    )

    helper = form_helper()

    def __init__(self, *args, version: RoleProfileVersion, **kwargs):
        super().__init__(*args, **kwargs)
        # A first version (a new role profile) has no date of its own yet: offer today's.
        new = version.number == 1 and version.document_date is None
        self.fields["document_date"].initial = timezone.localdate() if new else version.document_date

    def clean_note(self):
        note = normalise_text(self.cleaned_data["note"])
        if not note:  # only invisible characters: asked again before the confirmation, not after it
            raise forms.ValidationError(self.fields["note"].error_messages["required"])
        return note

    def clean_document_date(self):
        value = self.cleaned_data["document_date"]
        if value is not None and value > timezone.localdate() + datetime.timedelta(days=366):
            raise forms.ValidationError("That date is more than a year ahead; check the year.")
        return value
