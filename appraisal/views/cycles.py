"""The cycle pages (HR admins): the list, creating a cycle, a cycle's progress, opening it, reminders,
and a ZIP of its completed records."""

from collections import Counter

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import date as date_format, pluralize
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from appraisal import cycle_zip as cycle_zip_job, reminders
from appraisal.disagreements import disagreements, rows_html as disagreement_rows
from appraisal.forms import CycleForm
from appraisal.models import Appraisal, AppraisalCycle, Reminder
from appraisal.selectors import not_appraised, opening_preview
from appraisal.services import cycles
from core import jobs
from core.access import hr_admin_required
from core.confirm import Confirmation, is_confirmed, render_confirmation
from core.forms import add_validation_error
from core.jobs import file_is_kept
from staff.access import hr_conflicts

State = Appraisal.State


@hr_admin_required
@require_safe
def cycle_list(request):
    # Not the appraisals an opening is still preparing (`Appraisal.staged_for`).
    # Ordered here: a query that counts (GROUP BY) leaves out the model's default order.
    rows = AppraisalCycle.objects.annotate(
        appraisal_count=Count("appraisals", filter=Q(appraisals__staged_for__isnull=True))
    ).order_by("-period_end", "name")
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
    # The people in the cycle who are not emailed its links, being unable to sign in (their appraisals go on).
    no_access = {
        member.pk: member
        for appraisal in shown
        for member in (appraisal.staff_member, appraisal.appraiser)
        if member.is_active and not member.can_sign_in
    }
    disagreed = disagreements(cycle, within=~Q(appraisal__staff_member_id__in=hidden))
    return render(
        request,
        "appraisal/cycle_detail.html",
        {
            "cycle": cycle,
            "appraisals": shown,
            "states": states,
            "not_appraised": not_appraised(cycle),
            "disagreements": disagreed,
            "disagreement_rows": disagreement_rows(disagreed),
            "hidden": len(appraisals) - len(shown),
            "no_access": sorted(no_access.values(), key=lambda member: (member.user.last_name, member.user.first_name)),
            "reminder_days": settings.REMINDER_DAYS_BEFORE,
            "opening": jobs.unfinished(f"cycle {cycle.pk}"),
            "zip_job": _latest_zip(request.user, cycle),
        },
    )


@hr_admin_required
@require_POST
def cycle_open(request, pk):
    """Start the job that opens the cycle (or opens it again), and show its progress; refused while one runs.
    First a confirmation page: what opening will create, who will be emailed, what cannot be undone."""
    cycle = get_object_or_404(AppraisalCycle, pk=pk)
    try:
        if (running := jobs.unfinished(f"cycle {cycle.pk}")) is not None:
            raise jobs.AlreadyRunning(running)
        if not is_confirmed(request):
            return render_confirmation(request, _opening_confirmation(cycle))
        job = cycles.start_opening(by=request.user, cycle=cycle)
    except jobs.AlreadyRunning as running:
        who = running.job.created_by if running.job else None
        messages.error(
            request,
            "This cycle is already being opened"
            + (f" (started by {who.get_full_name() or who.username})" if who and who != request.user else "")
            + ": nothing more was started. Its progress is shown below.",
        )
        return redirect("cycle_detail", cycle.pk)
    return redirect("job", job.pk)


# People a confirmation names in each list; the rest are counted ("and 12 more").
LISTED = 20


def _opening_confirmation(cycle: AppraisalCycle) -> Confirmation:
    preview = opening_preview(cycle, listed=LISTED)
    again = cycle.is_open
    emailed = preview.emailed - preview.not_emailed
    created = f"{preview.appraisals:,} appraisal{pluralize(preview.appraisals)}"
    confirmation = Confirmation(
        title=f"Open {cycle.name} again?" if again else f"Open {cycle.name}?",
        action=reverse("cycle_open", args=[cycle.pk]),
        button="Open it again" if again else "Open the cycle",
        back_url=reverse("cycle_detail", args=[cycle.pk]),
        lead=(
            f"This creates {created}, one for each active member of staff with a role profile and a line manager"
            f" who has none in this cycle yet, and emails {emailed:,} {'person' if emailed == 1 else 'people'}."
            " It runs in the background; you can watch its progress."
        ),
        breadcrumbs=[
            ("Appraisal cycles", reverse("cycle_list")),
            (cycle.name, reverse("cycle_detail", args=[cycle.pk])),
        ],
        details=[
            ("Period", cycle.period_label),
            ("Due", date_format(cycle.due_on, "j F Y")),
            (
                "Self-assessment first",
                "Yes: each person rates themselves before their manager's review"
                if cycle.self_assessment
                else "No: each appraisal starts with the manager's review",
            ),
            ("Appraisals created", f"{preview.appraisals:,}"),
        ],
    )
    if preview.skipped:
        confirmation.incomplete = [
            f"{preview.skipped:,} active member{pluralize(preview.skipped)} of staff will have no appraisal until"
            " their record is fixed and the cycle is opened again:",
            *(f"{entry.staff_member}: {entry.reason}." for entry in preview.skipped_listed),
        ]
        if preview.skipped > len(preview.skipped_listed):
            confirmation.incomplete.append(
                f"… and {preview.skipped - len(preview.skipped_listed):,} more, listed on the cycle's page."
            )
    if cycle.self_assessment:
        told = f"{emailed:,} {'person' if emailed == 1 else 'people'} by email, each asked for their self-assessment."
    else:
        told = (
            f"{emailed:,} appraiser{pluralize(emailed)} by email, each told which appraisals to carry out."
            " The people appraised are not emailed now."
        )
    confirmation.notified = [told] if emailed else []
    if preview.not_emailed:
        names = ", ".join(preview.not_emailed_names)
        more = preview.not_emailed - len(preview.not_emailed_names)
        confirmation.notified.append(
            "Not emailed, having no email address or no access yet (their appraisals are created all the same): "
            + names
            + (f" and {more:,} more" if more else "")
            + "."
        )
        confirmation.links.append(("Invite everyone not yet invited first", reverse("staff_invite_many")))
    confirmation.irreversible = [
        "The emails are sent as soon as the appraisals are ready, and cannot be recalled.",
        "Each appraisal is made against the current published version of the person's role profile, with its"
        " window as the framework stands today: later changes to role profiles or the framework do not change it.",
        "The cycle cannot be un-opened, and its appraisals cannot be removed. Opening it again later only adds"
        " appraisals for people who have none.",
    ]
    return confirmation


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


@hr_admin_required
@require_POST
def cycle_zip(request, pk):
    """Start the job that puts the cycle's completed records in one ZIP of PDFs for this HR admin."""
    cycle = get_object_or_404(AppraisalCycle, pk=pk)
    try:
        job = cycle_zip_job.start(by=request.user, cycle=cycle)
    except jobs.AlreadyRunning as running:
        if running.job is None:  # finished meanwhile
            return redirect("cycle_detail", cycle.pk)
        messages.info(request, "Your ZIP of this cycle is already being made: this is its progress.")
        return redirect("job", running.job.pk)
    return redirect("job", job.pk)


def _latest_zip(user, cycle):
    job = cycle_zip_job.latest(user, cycle)
    return {"job": job, "kept": file_is_kept(job)} if job else None
