"""Marking someone as leaving, with who takes over their reports and appraisals (HR admins)."""

import datetime

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from appraisal import leavers
from core.access import hr_admin_required
from staff import leaving as staff_leaving
from staff.forms import DATE_INPUT_FORMATS, DateField, LeaverForm
from staff.views import staff_member_to_change


@hr_admin_required
@require_http_methods(["GET", "POST"])
def staff_mark_leaver(request, pk):
    member = staff_member_to_change(request.user, pk)
    left_on = _posted_date(request) if request.method == "POST" else member.left_on or timezone.localdate()
    reports = staff_leaving.reports_to_hand_over(member, left_on) if left_on else []
    appraisals = leavers.appraisals_to_hand_over(member) if left_on else []
    handover = [(f"report-{report.pk}", f"Line management of {report.name}") for report in reports] + [
        (
            f"appraisal-{appraisal.pk}",
            f"{appraisal.staff_member}'s appraisal, {appraisal.cycle} ({appraisal.get_state_display()})",
        )
        for appraisal in appraisals
    ]
    manager = member.line_manager if member.line_manager is not None and member.line_manager.is_active else None
    initial = {"left_on": member.left_on or timezone.localdate(), "successor": manager.pk if manager else None}
    form = LeaverForm(request.POST or None, member=member, handover=handover, initial=initial)
    if form.is_valid():
        chosen = form.cleaned_data["left_on"]
        try:
            leavers.mark_leaver(by=request.user, member=member, left_on=chosen, successors=form.successors())
        except ValidationError as error:
            form.add_error(None, error)
            if chosen and form.someone_missing:
                form.add_error("successor", "Choose who takes over, or someone for each one below.")
        else:
            messages.success(request, _done_message(member, chosen, bool(handover)))
            return redirect("staff_detail", member.pk)
    return render(request, "roles/staff/leaver_form.html", {"form": form, "member": member, "title": "Leaving date"})


def _posted_date(request) -> datetime.date | None:
    """The leaving date as posted, for listing what it hands over (the form reports a bad one)."""
    try:
        return DateField(required=False, input_formats=DATE_INPUT_FORMATS).clean(request.POST.get("left_on", ""))
    except ValidationError:
        return None


def _done_message(member, left_on, handed_over: bool) -> str:
    if left_on is None:
        return f"{member.name} is no longer marked as a leaver."
    day = f"{left_on.day} {left_on:%B %Y}"
    if not handed_over:
        return f"{member.name}'s last day of employment is {day}."
    after = left_on + datetime.timedelta(days=1)
    when = "now" if after <= timezone.localdate() else f"on {after.day} {after:%B %Y}"
    return f"{member.name}'s last day of employment is {day}. Their reports and appraisals are handed over {when}."
