"""Someone leaves: who takes over the people they line-manage and the appraisals they conduct.

Marking a leaver (`mark_leaver`) names, in the same step, a successor for each person they
line-manage who will still work here and for each open appraisal they conduct. The successors
take over on the day after the last day: at once when that day has come, otherwise on the day,
when `apply_due_handovers` runs (`manage.py apply_handovers`, daily). All or nothing: one unfit
successor and nothing is saved. Until that day the leaver still manages and appraises; from it
they cannot sign in (staff/auth.py), whether or not the handover has run yet.
"""

import datetime
import logging
from typing import cast

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from appraisal.models import Appraisal, AppraiserHandover
from appraisal.services.workflow import appraiser_problem, hand_over_appraisal
from audit import trail
from core.dates import employment_date_problem
from staff import leaving as staff_leaving
from staff.models import StaffMember

logger = logging.getLogger(__name__)
State = Appraisal.State


def appraisals_to_hand_over(member: StaffMember) -> list[Appraisal]:
    """The open appraisals `member` conducts."""
    return list(
        Appraisal.objects.filter(appraiser=member)
        .exclude(state=State.COMPLETED)
        .select_related("cycle", "staff_member__user")
        .order_by("cycle__period_end", "pk")
    )


def reason_for(member: StaffMember, left_on: datetime.date) -> str:
    return f"{member.name}'s last day of employment is {left_on.day} {left_on:%B %Y}."


@transaction.atomic
def mark_leaver(
    *, by, member: StaffMember, left_on: datetime.date | None, successors: dict[str, StaffMember] | None = None
) -> StaffMember:
    """Record the last day of employment with its handover; `successors` maps "report-<id>" and
    "appraisal-<id>" to who takes each over. Raises ValidationError with a message per field."""
    successors = successors or {}
    if (problem := employment_date_problem(left_on)) is not None:
        raise ValidationError({"left_on": problem})
    today = timezone.localdate()
    _cancel_planned(by=by, member=member)  # a changed date makes a new handover
    errors: dict[str, str | list[str]] = {}
    handovers: list[tuple[Appraisal, StaffMember]] = []
    if left_on is not None:
        effective = left_on + datetime.timedelta(days=1)
        for appraisal in appraisals_to_hand_over(member):
            successor = successors.get(f"appraisal-{appraisal.pk}")
            if successor is None:
                errors[f"appraisal-{appraisal.pk}"] = (
                    f"Choose who conducts {appraisal.staff_member}'s appraisal in {appraisal.cycle}."
                )
            elif successor.pk == member.pk:
                errors[f"appraisal-{appraisal.pk}"] = f"{member.name} is the one leaving: choose someone else."
            elif (problem := appraiser_problem(appraisal, successor, on=effective)) is not None:
                errors[f"appraisal-{appraisal.pk}"] = problem
            else:
                handovers.append((appraisal, successor))
    line_successors = {
        int(key.split("-", 1)[1]): person for key, person in successors.items() if key.startswith("report-")
    }
    try:
        staff_leaving.mark_leaver(by=by, member=member, left_on=left_on, line_successors=line_successors)
    except ValidationError as error:
        errors = {**error.message_dict, **errors}
    if errors:
        raise ValidationError(errors)
    for appraisal, successor in handovers:
        if effective <= today:
            # left_on is not None here: handovers are only planned when a last day is given.
            reason = reason_for(member, cast(datetime.date, left_on))
            hand_over_appraisal(by=by, appraisal=appraisal, appraiser=successor, reason=reason)
        else:
            AppraiserHandover.objects.create(
                appraisal=appraisal, leaver=member, successor=successor, on=effective, recorded_by=by
            )
            trail.record(
                actor=by,
                action="plan handover",
                obj=appraisal,
                object_type="appraisal",
                person=appraisal.staff_member_id,
                changes={"appraiser": [str(member), str(successor)], "from": str(effective)},
            )
    return member


def _cancel_planned(*, by, member: StaffMember) -> None:
    for handover in AppraiserHandover.objects.filter(leaver=member, applied_at__isnull=True).select_related(
        "appraisal", "successor__user"
    ):
        trail.record(
            actor=by,
            action="cancel handover",
            obj=handover.appraisal,
            object_type="appraisal",
            person=handover.appraisal.staff_member_id,
            changes={"appraiser": [str(handover.successor), str(member)], "from": str(handover.on)},
        )
        handover.delete()


@transaction.atomic
def apply_due_handovers(today: datetime.date | None = None) -> dict[str, int]:
    """Everything due by `today`: changes of line manager recorded ahead, appraisals handed over from
    leavers, and any open appraisal still conducted by someone who has left (it goes to the person's
    line manager). Safe to run any number of times; returns counts of what it did."""
    today = today or timezone.localdate()
    done = {"line managers": len(staff_leaving.apply_due_line_changes(today)), "appraisals": 0, "left as they are": 0}
    for handover in AppraiserHandover.objects.filter(applied_at__isnull=True, on__lte=today).select_related(
        "appraisal__cycle",
        "appraisal__staff_member__user",
        "appraisal__appraiser__user",
        "leaver__user",
        "successor__user",
        "recorded_by",
    ):
        appraisal = handover.appraisal
        if appraisal.state != State.COMPLETED and appraisal.appraiser_id == handover.leaver_id:
            if _hand_over(
                appraisal,
                handover.successor,
                by=handover.recorded_by,
                reason=reason_for(handover.leaver, handover.on - datetime.timedelta(days=1)),
            ):
                done["appraisals"] += 1
            else:
                done["left as they are"] += 1
                continue
        handover.applied_at = timezone.now()
        handover.save(update_fields=["applied_at"])
    # Appraisals opened for a leaver's reports after the handover was recorded, or never handed over.
    stranded = (
        Appraisal.objects.exclude(state=State.COMPLETED)
        .filter(appraiser__left_on__lt=today)
        .select_related("cycle", "staff_member__user", "staff_member__line_manager__user", "appraiser__user")
    )
    for appraisal in stranded:
        if AppraiserHandover.objects.filter(appraisal=appraisal, applied_at__isnull=True).exists():
            continue  # a successor is named, from a later day
        manager = appraisal.staff_member.line_manager
        leaver = appraisal.appraiser
        reason = reason_for(leaver, leaver.left_on or today)  # left: the query asks for a last day
        if manager is not None and _hand_over(appraisal, manager, by=None, reason=reason):
            done["appraisals"] += 1
        else:
            done["left as they are"] += 1
    return done


def _hand_over(appraisal: Appraisal, successor: StaffMember, *, by, reason: str) -> bool:
    """Hand one appraisal over, or log why not (the successor has left meanwhile, say) and leave it for HR."""
    try:
        with transaction.atomic():
            hand_over_appraisal(by=by, appraisal=appraisal, appraiser=successor, reason=reason)
    except ValidationError as error:
        logger.warning(
            "Appraisal %s was not handed over to staff member %s: %s",
            appraisal.pk,
            successor.pk,
            "; ".join(error.messages),
        )
        return False
    return True
