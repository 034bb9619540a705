"""Reminders that chase what is due in an open cycle.

Each day (settings.SCHEDULE, `send_due`), for every open cycle: whoever must act next on an
appraisal not yet completed is reminded settings.REMINDER_DAYS_BEFORE days before the due date,
and every seventh day once it is overdue. A member of staff gets an email about their own
appraisal; an appraiser gets one email listing every report waiting for them, not one each. HR can
remind everyone overdue from the cycle page, after a preview (`plan`).

Never twice for the same step of the same appraisal to the same person on the same day: each
reminder is a `Reminder` row, and the database refuses a second one, so a reminder sent by HR and
the day's run (or two runs) cannot both go. Nobody without an email address, who has left, or who
cannot sign in yet (no password: not invited, or not yet set up) is emailed: the plan lists them for
HR instead, with a way to invite them.
"""

import datetime
from dataclasses import dataclass, field

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from appraisal.models import Appraisal, AppraisalCycle, Reminder
from audit import trail
from staff.models import NO_ACCESS, StaffMember

State = Appraisal.State

WHAT = {
    State.SELF_ASSESSMENT: "fill in the self-assessment",
    State.MANAGER_REVIEW: "score the appraisal and share it",
    State.AWAITING_SIGN_OFF: "read the record and sign it off",
    State.AWAITING_COUNTERSIGN: "countersign",
    State.REFERRED: "decide on the disagreement referred to you",  # a manager's; one referred to HR is HR's list
}


@dataclass
class Recipient:
    member: StaffMember
    appraisals: list[Appraisal] = field(default_factory=list)
    reason: str = ""  # why they cannot be emailed, if they cannot

    @property
    def own(self) -> bool:
        """Whether they are reminded of their own appraisal (a self-assessment, a sign-off)."""
        return all(appraisal.staff_member_id == self.member.pk for appraisal in self.appraisals)


@dataclass
class Plan:
    cycle: AppraisalCycle
    today: datetime.date
    emailed: list[Recipient]
    not_emailed: list[Recipient]

    @property
    def no_access(self) -> bool:
        """Whether some of those not emailed could be, once invited."""
        return any(recipient.reason == NO_ACCESS for recipient in self.not_emailed)

    @property
    def appraisal_count(self) -> int:
        return sum(len(recipient.appraisals) for recipient in self.emailed)


def plan(
    cycle: AppraisalCycle, *, today: datetime.date, overdue_only: bool = False, leave_out: frozenset[int] = frozenset()
) -> Plan:
    """Who would be reminded of what in `cycle` today: those who must act next on an appraisal not completed
    (leaving out the appraisals of the people in `leave_out`: those an HR admin may not act on)."""
    if overdue_only and cycle.due_on >= today:
        return Plan(cycle, today, [], [])
    rows = (
        cycle.appraisals.exclude(state=State.COMPLETED)
        .exclude(staff_member_id__in=leave_out)
        .select_related("staff_member__user", "appraiser__user", "cycle")
        .order_by("staff_member__user__last_name", "staff_member__user__first_name", "pk")
    )
    recipients: dict[int, Recipient] = {}
    for appraisal in rows:
        member = appraisal.next_actor
        if member is None:
            continue
        recipients.setdefault(member.pk, Recipient(member)).appraisals.append(appraisal)
    emailed: list[Recipient] = []
    not_emailed: list[Recipient] = []
    for recipient in sorted(recipients.values(), key=lambda r: (r.member.user.last_name, r.member.user.first_name)):
        if recipient.member.left_on is not None and recipient.member.left_on < today:
            recipient.reason = f"left on {recipient.member.left_on:%-d %B %Y}"
        elif not recipient.member.user.email:
            recipient.reason = "no email address"
        elif not recipient.member.can_sign_in:
            recipient.reason = NO_ACCESS
        (not_emailed if recipient.reason else emailed).append(recipient)
    return Plan(cycle, today, emailed, not_emailed)


def is_reminder_day(cycle: AppraisalCycle, today: datetime.date) -> str | None:
    """The kind of reminder `cycle` has today, if any: some days before the due date, then weekly once overdue."""
    if not cycle.is_open:
        return None
    days = (cycle.due_on - today).days
    if days == settings.REMINDER_DAYS_BEFORE:
        return Reminder.Kind.BEFORE_DUE
    if days < 0 and -days % 7 == 0:
        return Reminder.Kind.OVERDUE
    return None


def send(
    cycle: AppraisalCycle,
    *,
    today: datetime.date,
    kind: str,
    by=None,
    overdue_only: bool = False,
    leave_out: frozenset[int] = frozenset(),
) -> Plan:
    """Send the reminders of `plan`, leaving out any already sent today for the same step; one transaction.

    Returns the plan of what was sent (the recipients emailed, each with the appraisals they were reminded of).
    """
    with transaction.atomic():
        planned = plan(cycle, today=today, overdue_only=overdue_only, leave_out=leave_out)
        sent: list[Recipient] = []
        messages: list[EmailMessage] = []
        for recipient in planned.emailed:
            new = [appraisal for appraisal in recipient.appraisals if _mark(appraisal, recipient.member, today, kind)]
            if new:
                reminded = Recipient(recipient.member, new)
                sent.append(reminded)
                messages.append(_email(reminded, cycle, today))
        if messages:
            get_connection().send_messages(messages)  # the outbox: delivered by a worker once this commits
        if by is not None:
            trail.record(
                actor=by,
                action="remind",
                obj=cycle,
                object_type="appraisal cycle",
                changes={
                    "reminded": [f"{r.member} ({len(r.appraisals)})" for r in sent],
                    "not emailed": [f"{r.member}: {r.reason}" for r in planned.not_emailed],
                },
            )
    return Plan(cycle, today, sent, planned.not_emailed)


def send_due(today: datetime.date | None = None) -> int:
    """The daily task: each open cycle's reminders, on its reminder days; return how many people were emailed."""
    today = today or timezone.localdate()
    emailed = 0
    for cycle in AppraisalCycle.objects.filter(
        opened_at__isnull=False, due_on__gte=today - datetime.timedelta(days=366)
    ):
        kind = is_reminder_day(cycle, today)
        if kind is not None:
            emailed += len(send(cycle, today=today, kind=kind).emailed)
    return emailed


def _mark(appraisal: Appraisal, recipient: StaffMember, today: datetime.date, kind: str) -> bool:
    """Record the reminder; False if this step was already chased today (the database's constraint says so)."""
    try:
        with transaction.atomic():
            Reminder.objects.create(
                appraisal=appraisal, recipient=recipient, state=appraisal.state, sent_on=today, kind=kind
            )
    except IntegrityError:
        return False
    return True


def _email(recipient: Recipient, cycle: AppraisalCycle, today: datetime.date) -> EmailMessage:
    user = recipient.member.user
    due = f"{cycle.due_on:%-d %B %Y}"
    when = f"was due on {due}" if cycle.due_on < today else f"is due by {due}"
    link = settings.SITE_URL.rstrip("/")
    if recipient.own:
        (appraisal,) = recipient.appraisals
        subject = f"Reminder: your {cycle.name} appraisal"
        body = f"Your {cycle.name} appraisal {when}. Please {WHAT[State(appraisal.state)]}:\n{link}{_path(appraisal)}"
    else:
        subject = f"Reminder: {len(recipient.appraisals)} appraisal(s) waiting for you in {cycle.name}"
        lines = "\n".join(
            f"- {appraisal.staff_member}: {WHAT[State(appraisal.state)]}\n  {link}{_path(appraisal)}"
            for appraisal in recipient.appraisals
        )
        body = f"{cycle.name} {when}. These appraisals are waiting for you:\n{lines}"
    greeting = f"Dear {user.first_name or user.username},\n\n"
    return EmailMessage(subject, greeting + body + "\n", to=[user.email])


def _path(appraisal: Appraisal) -> str:
    return reverse("appraisal", args=[appraisal.pk])
