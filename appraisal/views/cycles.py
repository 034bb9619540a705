"""The cycle pages (HR admins): the list, creating a cycle, a cycle's progress and opening it."""

from collections import Counter

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from appraisal import reminders
from appraisal.forms import CycleForm
from appraisal.models import Appraisal, AppraisalCycle, Reminder
from appraisal.selectors import not_appraised
from appraisal.services import cycles
from core.access import hr_admin_required
from core.forms import add_validation_error
from staff.access import hr_conflicts

State = Appraisal.State


@hr_admin_required
@require_safe
def cycle_list(request):
    rows = AppraisalCycle.objects.annotate(appraisal_count=Count("appraisals"))
    return render(request, "appraisal/cycle_list.html", {"cycles": rows})


@hr_admin_required
@require_http_methods(["GET", "POST"])
def cycle_create(request):
    form = CycleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            cycle = cycles.create_cycle(by=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_validation_error(form, error)
        else:
            messages.success(request, f"{cycle} created. Open it when you are ready to create everyone's appraisal.")
            return redirect("cycle_detail", cycle.pk)
    return render(request, "appraisal/cycle_form.html", {"form": form})


@hr_admin_required
@require_safe
def cycle_detail(request, pk):
    cycle = get_object_or_404(AppraisalCycle, pk=pk)
    hidden = hr_conflicts(request.user)  # their own record and those of the people above them
    appraisals = list(
        cycle.appraisals.select_related("staff_member__user", "appraiser__user", "role_version").order_by(
            "staff_member__user__last_name", "staff_member__user__first_name"
        )
    )
    shown = [appraisal for appraisal in appraisals if appraisal.staff_member_id not in hidden]
    counts = Counter(appraisal.state for appraisal in shown)
    states = [{"state": state, "count": counts.get(state.value, 0)} for state in State]
    return render(
        request,
        "appraisal/cycle_detail.html",
        {
            "cycle": cycle,
            "appraisals": shown,
            "states": states,
            "not_appraised": not_appraised(cycle),
            "hidden": len(appraisals) - len(shown),
            "reminder_days": settings.REMINDER_DAYS_BEFORE,
        },
    )


@hr_admin_required
@require_POST
def cycle_open(request, pk):
    cycle = get_object_or_404(AppraisalCycle, pk=pk)
    result = cycles.open_cycle(by=request.user, cycle=cycle)
    messages.success(request, f"{len(result.created)} appraisal(s) created.")
    if result.not_appraised:
        messages.warning(
            request,
            f"{len(result.not_appraised)} member(s) of staff could not be given an appraisal: see the list below.",
        )
    return redirect("cycle_detail", cycle.pk)


@hr_admin_required
@require_http_methods(["GET", "POST"])
def cycle_remind(request, pk):
    """Remind everyone overdue in the cycle: a preview of who will be emailed about what (GET), then send (POST)."""
    cycle = get_object_or_404(AppraisalCycle, pk=pk)
    today = timezone.localdate()
    leave_out = frozenset(hr_conflicts(request.user))  # their own record and those of the people above them
    if request.method == "POST":
        sent = reminders.send(
            cycle, today=today, kind=Reminder.Kind.BY_HR, by=request.user, overdue_only=True, leave_out=leave_out
        )
        if sent.emailed:
            messages.success(
                request,
                f"Reminders sent to {len(sent.emailed)} people about {sent.appraisal_count} appraisal(s)."
                " Anyone already reminded of the same step today was left out.",
            )
        else:
            messages.info(request, "Nobody was reminded: nothing overdue that was not already chased today.")
        return redirect("cycle_detail", cycle.pk)
    preview = reminders.plan(cycle, today=today, overdue_only=True, leave_out=leave_out)
    return render(request, "appraisal/cycle_remind.html", {"cycle": cycle, "plan": preview, "what": reminders.WHAT})
