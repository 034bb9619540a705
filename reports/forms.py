"""The filters of the organisation reports (/reports/ and its CSV downloads), read from the query string."""

from typing import cast

from django import forms

from core.forms import ListedChoiceField
from reports.selectors import ReportFilters, opened_cycles, reportable_role_profiles
from staff.models import Service


class CycleChoiceField(ListedChoiceField):
    def label_from_instance(self, cycle):
        return cycle.name


class RoleChoiceField(ListedChoiceField):
    def label_from_instance(self, role_profile):
        return role_profile.current_title  # annotated by reportable_role_profiles()


class ReportFilterForm(forms.Form):
    """Cycle (an opened one; the latest by period end when absent), service and role profile (both optional).

    Always bind it to the query string: `ReportFilterForm(request.GET)`. With no cycle given, the
    latest opened cycle is filled in, so the form shows which cycle the report is for. `filters()`
    is None when no cycle has been opened yet.
    """

    cycle = CycleChoiceField(
        queryset=opened_cycles(),
        required=False,
        empty_label=None,
        label="Cycle",
        error_messages={
            "invalid_choice": "Choose a cycle from the list: that one does not exist or has not been opened."
        },
    )
    service = ListedChoiceField(
        queryset=Service.objects.order_by("name"),
        required=False,
        empty_label="All services",
        label="Service",
        help_text="The person's current service.",
        error_messages={"invalid_choice": "Choose a service from the list, or All services."},
    )
    role = RoleChoiceField(
        queryset=reportable_role_profiles(),
        required=False,
        empty_label="All roles",
        label="Role profile",
        help_text="The role the appraisal was opened against.",
        error_messages={"invalid_choice": "Choose a role profile from the list, or All roles."},
    )

    def __init__(self, data=None, **kwargs):
        super().__init__(data, **kwargs)
        cycles = cast(CycleChoiceField, self.fields["cycle"])
        if data is not None and not data.get("cycle") and (opened := cycles.listed):
            data = data.copy()
            data["cycle"] = str(opened[0].pk)  # the latest: the list is in that order
            self.data = data
        # Django links each select to "<id>_helptext" and "<id>_error" (aria-describedby); the template uses those ids.
        for field in self.fields.values():
            field.widget.attrs["class"] = "form-select"

    def full_clean(self):
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                self.fields[name].widget.attrs["class"] = "form-select is-invalid"

    def service_names(self) -> dict[int, str]:
        """{id: name} of every service, as the service filter lists them (one query, shared with its options)."""
        return {service.pk: service.name for service in cast(ListedChoiceField, self.fields["service"]).listed}

    def role_titles(self) -> dict[int, str]:
        """{id: current title} of the role profiles the role filter lists (one query, shared with its options)."""
        return {role.pk: role.current_title for role in cast(RoleChoiceField, self.fields["role"]).listed}

    def filters(self, *, excluded_people: frozenset[int] = frozenset()) -> ReportFilters | None:
        """The valid filters, or None when no cycle has been opened yet. Call after `is_valid()`.

        `excluded_people`: staff ids the viewer's reports leave out (`staff.access.hr_conflicts`)."""
        cycle = self.cleaned_data.get("cycle")
        if cycle is None:
            return None
        return ReportFilters(
            cycle=cycle,
            service=self.cleaned_data.get("service"),
            role_profile=self.cleaned_data.get("role"),
            excluded_people=excluded_people,
        )
