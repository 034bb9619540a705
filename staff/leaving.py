"""Someone leaves: their last day of employment, and who line-manages the people they managed from
the day after (`mark_leaver`); changes of line manager recorded ahead take effect on their day
(`apply_due_line_changes`). Their open appraisals are handed over by `appraisal.leavers`.
"""

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from audit.trail import field_changes, record
from core.dates import employment_date_problem
from staff.hierarchy import lock_hierarchy, loops_made
from staff.models import LineManagerAssignment, StaffMember
from staff.records import append_line_manager, day_text, lock_member


def reports_to_hand_over(member: StaffMember, left_on: datetime.date | None) -> list[StaffMember]:
    """The people `member` line-manages who will still work here after `left_on` (today's reports if None)."""
    return list(
        StaffMember.objects.active(left_on or timezone.localdate()).filter(line_manager=member).select_related("user")
    )


@transaction.atomic
def mark_leaver(
    *, by, member: StaffMember, left_on: datetime.date | None, line_successors: dict[int, StaffMember] | None = None
) -> StaffMember:
    """Record the person's last day of employment, change it, or (with None) clear it. Their records are kept.

    Everyone they line-manage who will still work here after that day needs a successor
    (`line_successors`, {report id: new line manager}), from the day after the last day: at once if
    that day has come, else on the day (`apply_due_line_changes`). Changing or clearing the date
    cancels a handover that has not taken effect yet. All or nothing.
    """
    lock_member(member)
    line_successors = line_successors or {}
    if (message := employment_date_problem(left_on)) is not None:
        raise ValidationError({"left_on": message})
    today = timezone.localdate()
    _cancel_pending_handover(by=by, member=member, today=today)
    errors = {}
    reports = []
    if left_on is not None:
        latest_start = max(filter(None, [member.role_profile_since, member.line_manager_since]), default=None)
        if latest_start is not None and left_on < latest_start:
            errors["left_on"] = (
                f"The leaving date cannot be before the start of {member.name}'s current role profile or line manager "
                f"({day_text(latest_start)})."
            )
        reports = reports_to_hand_over(member, left_on)
        errors.update(_handover_errors(member, left_on, reports, line_successors))
    if errors:
        raise ValidationError(errors)
    effective = left_on + datetime.timedelta(days=1) if left_on else None
    for report in reports:
        before = {"line_manager": report.line_manager, "line_manager_since": report.line_manager_since}
        successor = line_successors[report.pk]
        append_line_manager(by=by, member=report, manager=successor, since=effective)  # type: ignore[arg-type]  # reports only with a date
        changes = field_changes(before, {"line_manager": successor, "line_manager_since": effective})
        record(
            actor=by,
            action="assign line manager",
            obj=report,
            person=report,
            changes={**changes, "reason": f"{member.name} leaves"},
        )
    if member.left_on == left_on:
        return member
    before = {"left_on": member.left_on}
    member.left_on = left_on
    member.save(update_fields=["left_on"])
    action = "mark leaver" if left_on else "clear leaver"
    record(actor=by, action=action, obj=member, person=member, changes=field_changes(before, {"left_on": left_on}))
    return member


def _handover_errors(
    member: StaffMember, left_on: datetime.date, reports: list[StaffMember], successors: dict[int, StaffMember]
) -> dict:
    """{field: message} for reports without a fit successor: "left_on" for the missing ones, "report-<id>" for
    each unfit."""
    errors = {}
    missing = [report for report in reports if report.pk not in successors]
    if missing:
        people = "person" if len(missing) == 1 else "people"
        errors["left_on"] = (
            f"{member.name} line-manages {len(missing)} {people} who will still be working here: "
            f"choose who takes over from {day_text(left_on + datetime.timedelta(days=1))} "
            f"({', '.join(r.name for r in missing)})."
        )
    effective = left_on + datetime.timedelta(days=1)
    fit = {}
    for report in reports:
        successor = successors.get(report.pk)
        if successor is None:
            continue
        if successor.pk == member.pk:
            problem = f"{member.name} is the one leaving: choose someone else to line-manage {report.name}."
        elif successor.pk == report.pk:
            problem = f"{report.name} cannot line-manage themselves: choose someone else."
        elif not successor.is_active_on(effective):
            problem = f"{successor.name} left on {day_text(successor.left_on)}; choose someone who works here."
        else:
            fit[report.pk] = successor.pk
            continue
        errors[f"report-{report.pk}"] = problem
    names = {report.pk: report.name for report in reports}
    for report_id in loops_made(fit):
        errors[f"report-{report_id}"] = (
            "A person cannot be their own line manager, directly or further up the line: with these changes "
            f"{names[report_id]} would be above themselves, a loop."
        )
    return errors


def _cancel_pending_handover(*, by, member: StaffMember, today: datetime.date) -> None:
    """Remove the changes of line manager, not yet in effect, away from `member` (a handover for a
    leaving date that is changed or cleared). They never took effect, so no history is lost."""
    pending = LineManagerAssignment.objects.filter(since__gt=today, staff_member__line_manager=member).select_related(
        "staff_member", "line_manager__user"
    )
    for assignment in pending:
        record(
            actor=by,
            action="cancel line manager change",
            obj=assignment.staff_member,
            person=assignment.staff_member,
            changes={
                "line_manager": [str(assignment.line_manager or "nobody"), str(member)],
                "from": str(assignment.since),
            },
        )
    pending.delete()


@transaction.atomic
def apply_due_line_changes(today: datetime.date | None = None) -> list[StaffMember]:
    """Make changes of line manager recorded ahead of their date current once their date has come;
    returns the people whose line manager changed. Safe to run any number of times."""
    today = today or timezone.localdate()
    lock_hierarchy()
    due = (
        LineManagerAssignment.objects.filter(since__lte=today)
        .filter(Q(staff_member__line_manager_since__isnull=True) | Q(since__gt=F("staff_member__line_manager_since")))
        .select_related("staff_member__user", "line_manager__user")
        .order_by("staff_member_id", "since", "pk")
    )
    newest = {}
    for assignment in due:
        newest[assignment.staff_member_id] = assignment  # the last one of each person wins
    changed = []
    for assignment in newest.values():
        member = assignment.staff_member
        before = {"line_manager": member.line_manager, "line_manager_since": member.line_manager_since}
        member.line_manager, member.line_manager_since = assignment.line_manager, assignment.since
        member.save(update_fields=["line_manager", "line_manager_since"])
        changes = field_changes(
            before, {"line_manager": member.line_manager, "line_manager_since": member.line_manager_since}
        )
        record(actor=None, action="line manager change takes effect", obj=member, person=member, changes=changes)
        changed.append(member)
    return changed
