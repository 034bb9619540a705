"""HR's staff records: list, create, edit, role and line-manager changes, leavers, CSV import.

Every view is for HR admins only. Each one parses the request, calls one service in `staff.records` or `staff.imports`
and redirects with a message; a refused input is shown next to its field and nothing is saved.
"""

import csv

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import dateformat, timezone
from django.views.decorators.http import require_http_methods, require_safe

from audit.models import AuditEntry
from core import jobs
from core.access import hr_admin_required
from core.forms import NO_CHANGES
from roles.models import published_versions_prefetch
from staff import imports, invitations, records as services
from staff.access import hr_conflict_message, is_hr_admin_over, require_hr_admin_over
from staff.forms import (
    AssignManagerForm,
    AssignRoleForm,
    ImportConfirmForm,
    ImportUploadForm,
    StaffCreateForm,
    StaffDetailsForm,
    StaffFilterForm,
)
from staff.models import LineManagerAssignment, RoleAssignment, StaffMember, single_sign_on
from staff.second_factor import has_second_factor

AUDIT_ENTRIES_SHOWN = 50
IMPORT_TEMPLATE_EXAMPLE = ["Alex Example", "alex.example@example.org", "housing-worker", "", "2026-01-05"]


@hr_admin_required
@require_safe
def staff_list(request):
    filters = StaffFilterForm(request.GET or None)
    members = invitations.with_access(_staff_with_roles(StaffMember.objects.all()))
    if filters.is_valid():
        members = _filtered(members, **filters.cleaned_data)
    rows = list(members)
    for member in rows:
        member.access = invitations.access_of(member)
    return render(request, "roles/staff/staff_list.html", {"members": rows, "filters": filters})


@hr_admin_required
@require_http_methods(["GET", "POST"])
def staff_create(request):
    form = StaffCreateForm(request.POST or None)
    if form.is_valid():
        try:
            member = services.create_staff_member(by=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                f"{member.name} was added. They cannot sign in until they set a password: invite them below "
                "(an email with a link), or print a set-up code for them if they have no email address.",
            )
            return redirect("staff_detail", member.pk)
    return render(request, "roles/staff/staff_form.html", {"form": form, "title": "Add a member of staff"})


@hr_admin_required
@require_safe
def staff_detail(request, pk):
    member = _staff_member(pk)
    role_history = (
        RoleAssignment.objects.filter(staff_member=member)
        .select_related("role_profile", "recorded_by")
        .prefetch_related(published_versions_prefetch("role_profile__versions"))
        .order_by("-since", "-pk")
    )
    manager_history = list(
        LineManagerAssignment.objects.filter(staff_member=member)
        .select_related("line_manager__user", "recorded_by")
        .order_by("-since", "-pk")
    )
    today = timezone.localdate()
    # The newest row in effect; rows dated ahead are planned (a leaver's handover, say).
    current_manager_assignment = next((row.pk for row in manager_history if row.since <= today), None)
    reports = StaffMember.objects.active().filter(line_manager=member).select_related("user")
    may_change = is_hr_admin_over(request.user, member.pk)
    member.access = invitations.access_of(member)  # type: ignore[attr-defined]
    # On their own record and those above them, an HR admin reads the record but not its changes.
    entries = (
        AuditEntry.objects.filter(person=member).select_related("actor")[:AUDIT_ENTRIES_SHOWN] if may_change else []
    )
    return render(
        request,
        "roles/staff/staff_detail.html",
        {
            "member": member,
            "role_history": role_history,
            "manager_history": manager_history,
            "current_manager_assignment": current_manager_assignment,
            "today": today,
            "reports": reports,
            "audit_entries": [(entry, _change_rows(entry.changes)) for entry in entries],
            "audit_entries_shown": AUDIT_ENTRIES_SHOWN,
            "may_change": may_change,
            "invitations": member.invitations.select_related("invited_by")[:5],
            "invite_refusal": invitations.refusal(member, by=request.user),
            "has_second_factor": has_second_factor(member.user),
            "single_sign_on": single_sign_on(),
            "sso_identities": list(member.user.sso_identities.all()),
            "conflict_message": None if may_change else hr_conflict_message(request.user, member.pk),
        },
    )


@hr_admin_required
@require_http_methods(["GET", "POST"])
def staff_edit(request, pk):
    member = staff_member_to_change(request.user, pk)
    form = StaffDetailsForm.for_member(member, request.POST or None)
    return _change_member(
        request,
        member,
        form,
        services.update_staff_details,
        "Edit details",
        lambda m: f"{m.name}'s details were saved.",
    )


@hr_admin_required
@require_http_methods(["GET", "POST"])
def staff_assign_role(request, pk):
    member = staff_member_to_change(request.user, pk)
    form = AssignRoleForm(request.POST or None, initial={"role_profile": member.role_profile_id})
    return _change_member(
        request,
        member,
        form,
        services.assign_role_profile,
        "Change role profile",
        lambda m: f"{m.name} holds {m.role_profile} from {_day(m.role_profile_since)}.",
    )


@hr_admin_required
@require_http_methods(["GET", "POST"])
def staff_assign_manager(request, pk):
    member = staff_member_to_change(request.user, pk)
    form = AssignManagerForm(request.POST or None, member=member, initial={"manager": member.line_manager_id})
    return _change_member(
        request,
        member,
        form,
        services.assign_line_manager,
        "Change line manager",
        lambda m: _manager_change_message(m, form.cleaned_data["manager"], form.cleaned_data["since"]),
    )


def _change_member(request, member, form, service, title, success):
    """Run one service on a valid form; its refusals become form errors and nothing is saved."""
    if form.is_valid():
        try:
            service(by=request.user, member=member, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, success(member) if form.has_changed() else NO_CHANGES)
            return redirect("staff_detail", member.pk)
    return render(request, "roles/staff/staff_form.html", {"form": form, "member": member, "title": title})


@hr_admin_required
@require_http_methods(["GET", "POST"])
def staff_import(request):
    """Step 1: upload a file. Step 2: a preview of every row; if all are valid, confirm to import them."""
    if request.method == "POST" and "csv_text" in request.POST:
        confirm = ImportConfirmForm(request.POST)
        if not confirm.is_valid():
            messages.error(request, "The import could not be read; upload the file again.")
            return redirect("staff_import")
        csv_text = confirm.cleaned_data["csv_text"]
        try:  # the job checks the file again, against the records as they are when it runs
            job = imports.start_import(by=request.user, csv_text=csv_text, count=imports.count_rows(csv_text))
        except jobs.AlreadyRunning as running:
            messages.error(
                request, "Another import is running: wait until it has finished, then upload this file again."
            )
            return (
                redirect("job", running.job.pk)
                if running.job and running.job.created_by == request.user
                else redirect("staff_import")
            )
        return redirect("job", job.pk)
    upload = ImportUploadForm(request.POST or None, request.FILES or None)
    if upload.is_valid():
        return _import_preview(request, upload.cleaned_data["file"])
    return render(
        request,
        "roles/staff/staff_import.html",
        {"upload": upload, "columns": imports.IMPORT_COLUMNS, "running": jobs.unfinished(imports.IMPORT_KEY)},
    )


@hr_admin_required
@require_safe
def staff_import_template(request):
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="staff-import-template.csv"'
    writer = csv.writer(response)
    writer.writerow(imports.IMPORT_COLUMNS)
    writer.writerow(IMPORT_TEMPLATE_EXAMPLE)
    return response


# Helpers.


def _staff_member(pk: int) -> StaffMember:
    """Any member of staff (HR admins may see everyone's record), ready for the record's pages; 404 if unknown."""
    return get_object_or_404(invitations.with_access(_staff_with_roles(StaffMember.objects.all())), pk=pk)


def staff_member_to_change(user, pk: int) -> StaffMember:
    """`_staff_member`, for a change: 403 on an HR admin's own record and those above them."""
    member = _staff_member(pk)
    require_hr_admin_over(user, member.pk)
    return member


def _staff_with_roles(members):
    return members.select_related("user", "service", "role_profile", "line_manager__user").prefetch_related(
        published_versions_prefetch("role_profile__versions")
    )


def _filtered(members, *, service, role_profile, status):
    if service is not None:
        members = members.filter(service=service)
    if role_profile is not None:
        members = members.filter(role_profile=role_profile)
    if status == "active":
        members = members.active()
    elif status == "left":
        members = members.filter(left_on__lte=timezone.localdate())
    return members


def _manager_change_message(member, manager, since) -> str:
    who = manager.name if manager else "nobody"
    if since > timezone.localdate():
        return f"From {_day(since)}, {member.name} will be line-managed by {who}. Until then nothing changes."
    return f"{member.name} is line-managed by {who} from {_day(since)}."


def _day(day) -> str:
    return dateformat.format(day, "j F Y")


def _change_rows(changes) -> list[dict]:
    """An audit entry's changes as rows to display: `{field: [before, after]}`, or a summary value."""
    if not isinstance(changes, dict):
        return [{"field": "", "value": changes}]
    rows = []
    for name, value in changes.items():
        label = name.replace("_", " ").capitalize()
        if isinstance(value, list) and len(value) == 2 and name != "names":
            rows.append({"field": label, "before": value[0], "after": value[1], "is_change": True})
        elif isinstance(value, list):
            rows.append({"field": label, "value": ", ".join(map(str, value))})
        else:
            rows.append({"field": label, "value": value})
    return rows


def _import_preview(request, csv_text: str):
    preview = imports.preview_import(csv_text)
    confirm = ImportConfirmForm(initial={"csv_text": csv_text}) if preview.is_valid else None
    return render(
        request,
        "roles/staff/staff_import_preview.html",
        {"preview": preview, "confirm": confirm, "upload": ImportUploadForm()},
    )
