"""Forms for HR's staff records. They parse input; the rules live in `staff.records` and `staff.imports`.

Field names match the keyword arguments of the services, so that a service's
`ValidationError({field: message})` is shown next to the field it concerns.
"""

from typing import cast

from django import forms

from roles.models import RoleProfile
from staff.imports import IMPORT_COLUMNS, MAX_IMPORT_BYTES, check_import_size, decode_import_file
from staff.models import Service, StaffMember

DATE_INPUT_FORMATS = ["%Y-%m-%d", "%d/%m/%Y"]


class DateField(forms.DateField):
    """A date picker where the browser has one; typed dates as YYYY-MM-DD or DD/MM/YYYY otherwise."""

    widget = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")

    def __init__(self, **kwargs):
        kwargs.setdefault("input_formats", DATE_INPUT_FORMATS)
        super().__init__(**kwargs)


class RoleProfileChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, profile):
        return profile.current_version.title


class StaffMemberChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, member):
        return f"{member.user.last_name}, {member.user.first_name}" if member.user.last_name else member.name


def published_role_profiles():
    return RoleProfile.objects.with_current_version()


def active_staff():
    return StaffMember.objects.active().select_related("user")


class StaffDetailsForm(forms.Form):
    first_name = forms.CharField(max_length=150)
    last_name = forms.CharField(max_length=150)
    email = forms.EmailField(
        max_length=254,
        required=False,
        help_text="Where their invitation and emails go; no one else may have the same one. Leave it empty for "
        "someone with no email address: they set up their account with a printed code.",
    )
    email_is_personal = forms.BooleanField(
        label="This address is personal",
        required=False,
        help_text="Tick if it is the person's own address rather than a work one (for someone with no work email).",
    )
    service = forms.ModelChoiceField(
        queryset=Service.objects.all(), required=False, empty_label="No service", help_text="The service they work in."
    )
    job_title = forms.CharField(
        max_length=200, required=False, help_text="Only for a job with no role profile here, such as Team Manager."
    )

    @classmethod
    def for_member(cls, member: StaffMember, data=None):
        user = member.user
        initial = {
            "first_name": user.first_name,
            "last_name": user.last_name,
            "email": user.email,
            "email_is_personal": member.email_is_personal,
            "service": member.service_id,
            "job_title": member.job_title,
        }
        return cls(data, initial=initial)


class StaffCreateForm(StaffDetailsForm):
    role_profile = RoleProfileChoiceField(
        queryset=published_role_profiles(),
        required=False,
        empty_label="No role profile",
        help_text="Only role profiles with a published version can be held.",
    )
    role_since = DateField(
        label="Holds the role profile since", required=False, help_text="Needed with a role profile."
    )
    line_manager = StaffMemberChoiceField(
        queryset=StaffMember.objects.none(),
        required=False,
        empty_label="Nobody",
        help_text="Someone who works here now.",
    )
    manager_since = DateField(
        label="Line-managed by them since", required=False, help_text="Needed with a line manager."
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # active today, not on the day the server started
        cast(StaffMemberChoiceField, self.fields["line_manager"]).queryset = active_staff()


class AssignRoleForm(forms.Form):
    role_profile = RoleProfileChoiceField(
        queryset=published_role_profiles(),
        empty_label=None,
        help_text="Only role profiles with a published version can be held.",
    )
    since = DateField(
        label="Holds it from",
        help_text=(
            "The first day in the new role. It cannot be before the start of the current role: history is kept, "
            "not rewritten."
        ),
    )


class AssignManagerForm(forms.Form):
    manager = StaffMemberChoiceField(
        queryset=StaffMember.objects.none(),
        required=False,
        label="Line manager",
        empty_label="Nobody",
        help_text=(
            "Someone who works here now, and who is not managed by this person, directly or further down the line."
        ),
    )
    since = DateField(
        label="Line-managed by them from",
        help_text="It cannot be before the current line manager's start date: history is kept, not rewritten.",
    )

    def __init__(self, *args, member: StaffMember, **kwargs):
        super().__init__(*args, **kwargs)
        cast(StaffMemberChoiceField, self.fields["manager"]).queryset = active_staff().exclude(pk=member.pk)


class LeaverForm(forms.Form):
    """The last day of employment and, for each person the leaver line-manages and each appraisal
    they conduct (`handover`: [(field name, label)]), who takes it over; "successor" for all at once."""

    left_on = DateField(
        label="Last day of employment",
        required=False,
        help_text="Leave it empty if the person works here after all. Their records are kept either way.",
    )
    successor = StaffMemberChoiceField(
        queryset=StaffMember.objects.none(),
        required=False,
        label="Who takes over",
        empty_label="Choose someone",
        help_text=(
            "From the day after the last day, they line-manage and appraise everyone listed below, unless you choose "
            "someone else for one."
        ),
    )

    def __init__(self, *args, member: StaffMember, handover: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        choices = active_staff().exclude(pk=member.pk)
        cast(StaffMemberChoiceField, self.fields["successor"]).queryset = choices
        self.handover_names = [name for name, _ in handover]
        for name, label in handover:
            self.fields[name] = StaffMemberChoiceField(
                queryset=choices, required=False, label=label, empty_label="The person chosen above"
            )
        for name in ("successor", *self.handover_names):
            self.fields[name].error_messages["invalid_choice"] = (
                "Choose someone from the list: that person does not work here, or is the one leaving."
            )
        if not handover:
            del self.fields["successor"]

    @property
    def report_fields(self) -> list:
        return [self[name] for name in self.handover_names if name.startswith("report-")]

    @property
    def appraisal_fields(self) -> list:
        return [self[name] for name in self.handover_names if name.startswith("appraisal-")]

    @property
    def someone_missing(self) -> bool:
        """No one chosen for all, and not for each record either (call after is_valid)."""
        return not self.cleaned_data.get("successor") and not all(
            self.cleaned_data.get(name) for name in self.handover_names
        )

    def successors(self) -> dict[str, StaffMember]:
        """{field name: who takes it over}, the one chosen above where none is chosen for a record."""
        default = self.cleaned_data.get("successor")
        chosen = {name: self.cleaned_data.get(name) or default for name in self.handover_names}
        return {name: person for name, person in chosen.items() if person is not None}


class StaffFilterForm(forms.Form):
    """The staff list's filters, read from the query string."""

    STATUS_CHOICES = [("", "Everyone"), ("active", "Working here"), ("left", "Left")]

    service = forms.ModelChoiceField(queryset=Service.objects.all(), required=False, empty_label="All services")
    role_profile = RoleProfileChoiceField(
        queryset=published_role_profiles(), required=False, empty_label="All role profiles"
    )
    status = forms.ChoiceField(choices=STATUS_CHOICES, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for bound_field in self:
            bound_field.field.widget.attrs["class"] = "form-select"


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        allow_empty_file=True,  # an empty file gets the import's own message
        help_text=f"Columns: {','.join(IMPORT_COLUMNS)}. UTF-8, at most 1 MB.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def clean_file(self) -> str:
        """The file's text (the field's cleaned value is the text, not the upload)."""
        upload = self.cleaned_data["file"]
        check_import_size(upload.size)  # before reading it into memory
        return decode_import_file(upload.read())


class ImportConfirmForm(forms.Form):
    csv_text = forms.CharField(widget=forms.HiddenInput, strip=False, max_length=MAX_IMPORT_BYTES)
