"""The steps of an appraisal's workflow, each from one state to the next, and changing its appraiser.

| step                     | by                     | from state                        | to state             |
|--------------------------|------------------------|-----------------------------------|----------------------|
| submit_self_assessment   | the staff member       | self-assessment                   | manager review       |
| begin_review             | the appraiser          | self-assessment                   | manager review       |
| share                    | the appraiser          | manager review                    | awaiting sign-off    |
| withdraw                 | the appraiser          | awaiting sign-off                 | manager review       |
| sign_off                 | the staff member       | awaiting sign-off                 | awaiting countersign |
| countersign              | the appraiser          | awaiting countersign              | completed            |
| take_back                | the appraiser          | awaiting countersign              | manager review       |
| refer                    | the appraiser          | awaiting countersign (disagreed)  | referred             |
| decide_referral          | the referee            | referred                          | completed, or manager review |
| reopen                   | an HR admin            | completed                         | manager review       |
| reassign_appraiser       | an HR admin            | any but completed                 | (same)               |

(who: `appraisal.permissions`; saving drafts of the self-assessment and the review: `scoring`.)
Each step is one transaction: the state changes only if the record is still where the step starts
(`revisions.advance`), with an `AppraisalEvent`, an audit entry, and the emails sent after it commits.
"""

import datetime
from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from appraisal import notifications, record_pdfs
from appraisal.models import Appraisal, ScoredCompetency
from appraisal.permissions import STEPS, Action, Permissions, permissions_of
from appraisal.services.revisions import Changes, advance, audit, record_event, scored_competencies
from appraisal.services.scoring import rederive
from core.tasks import enqueue_on_commit
from core.text import normalise_text
from staff.models import StaffMember

State = Appraisal.State


def submit_self_assessment(
    *, by: User, appraisal: Appraisal, revision: int | None = None, permissions: Permissions | None = None
) -> Appraisal:
    permissions_of(by, appraisal, given=permissions).require_party(Action.SUBMIT_SELF_ASSESSMENT)
    return _transition(
        appraisal,
        by=by,
        step=Action.SUBMIT_SELF_ASSESSMENT,
        action="submit self-assessment",
        to=State.MANAGER_REVIEW,
        revision=revision,
        notify=notifications.review_due,
    )


def begin_review(
    *, by: User, appraisal: Appraisal, revision: int | None = None, permissions: Permissions | None = None
) -> Appraisal:
    """The appraiser goes ahead without waiting any longer for the self-assessment (what is saved of it is kept)."""
    permissions_of(by, appraisal, given=permissions).require_party(Action.BEGIN_REVIEW)
    return _transition(
        appraisal,
        by=by,
        step=Action.BEGIN_REVIEW,
        action="begin review without self-assessment",
        to=State.MANAGER_REVIEW,
        revision=revision,
        notify=notifications.review_begun,
    )


def share(
    *, by: User, appraisal: Appraisal, revision: int | None = None, permissions: Permissions | None = None
) -> Appraisal:
    """Share the record with the staff member for sign-off: every competency scored, the meeting held."""
    permissions_of(by, appraisal, given=permissions).require_party(Action.SHARE)
    return _transition(
        appraisal,
        by=by,
        step=Action.SHARE,
        action="share",
        to=State.AWAITING_SIGN_OFF,
        revision=revision,
        values={"shared_at": timezone.now()},
        check=_ready_to_share,
        notify=notifications.sign_off_due,
    )


def _ready_to_share(appraisal: Appraisal, scored: list[ScoredCompetency]) -> None:
    problems = {}
    unscored = [competency.name for competency in scored if competency.achieved_level is None]
    if unscored:
        problems["competencies"] = (
            "Rate the indicators of " + ", ".join(unscored) + " before sharing (or override the level, with a reason)."
        )
    if appraisal.meeting_date is None:
        problems["meeting_date"] = "Record the date of the appraisal meeting before sharing."
    if problems:
        raise ValidationError(problems)


def withdraw(
    *,
    by: User,
    appraisal: Appraisal,
    reason: str = "",
    revision: int | None = None,
    permissions: Permissions | None = None,
) -> Appraisal:
    """Take a shared record back to make changes before the staff member signs it."""
    permissions_of(by, appraisal, given=permissions).require_party(Action.WITHDRAW)
    return _transition(
        appraisal,
        by=by,
        step=Action.WITHDRAW,
        action="withdraw",
        to=State.MANAGER_REVIEW,
        revision=revision,
        values={"shared_at": None},
        comment=reason,
        notify=notifications.withdrawn,
    )


def sign_off_action(agrees: bool) -> str:
    """How a sign-off is named in the record's history and the audit trail: a disagreement says so."""
    return "sign off" if agrees else "sign off, disagreeing"


def countersign_action(staff_agrees: bool | None) -> str:
    """How a countersignature is named in the record's history and the audit trail: one noting the
    person's disagreement says so."""
    return "countersign" if staff_agrees is not False else "countersign, noting disagreement"


def sign_off(
    *,
    by: User,
    appraisal: Appraisal,
    agrees: bool,
    comments: str,
    revision: int | None = None,
    permissions: Permissions | None = None,
) -> Appraisal:
    """The staff member signs the record, with comments; `agrees=False` records their disagreement."""
    permissions_of(by, appraisal, given=permissions).require_party(Action.SIGN_OFF)
    comments = normalise_text(comments)
    if problem := sign_off_problem(agrees, comments):
        raise ValidationError({"comments": problem})
    return _transition(
        appraisal,
        by=by,
        step=Action.SIGN_OFF,
        action=sign_off_action(agrees),
        to=State.AWAITING_COUNTERSIGN,
        revision=revision,
        values={
            "staff_agrees": agrees,
            "staff_comments": comments,
            "signed_off_at": timezone.now(),
            "signed_off_by": by,
        },
        comment=comments,
        notify=notifications.countersign_due,
    )


def sign_off_problem(agrees: bool, comments: str) -> str | None:
    """Why these sign-off comments will not do: a disagreement says what it is about."""
    if not agrees and not normalise_text(comments):
        return "Say what you disagree with, so that your manager and HR can see it."
    return None


def countersign(
    *,
    by: User,
    appraisal: Appraisal,
    comments: str = "",
    revision: int | None = None,
    permissions: Permissions | None = None,
) -> Appraisal:
    """The appraiser countersigns: the appraisal is completed and locked. When the person recorded that
    they disagree, the countersignature notes the disagreement: the appraiser's comments are required."""
    permissions_of(by, appraisal, given=permissions).require_party(Action.COUNTERSIGN)
    now = timezone.now()
    comments = normalise_text(comments)
    if problem := countersign_problem(appraisal, comments):
        raise ValidationError({"comments": problem})
    return _transition(
        appraisal,
        by=by,
        step=Action.COUNTERSIGN,
        action=countersign_action(appraisal.staff_agrees),
        to=State.COMPLETED,
        revision=revision,
        values={
            "countersign_comments": comments,
            "countersigned_at": now,
            "countersigned_by": by,
            "completed_at": now,
        },
        comment=comments,
        notify=notifications.completed,
    )


def countersign_problem(appraisal: Appraisal, comments: str) -> str | None:
    """Why these countersignature comments will not do: a disagreement is noted in them."""
    if appraisal.staff_agrees is False and not normalise_text(comments):
        return f"{appraisal.staff_member} disagrees: say how you have considered their comments."
    return None


def reopen(
    *, by: User, appraisal: Appraisal, reason: str, revision: int | None = None, permissions: Permissions | None = None
) -> Appraisal:
    """An HR admin reopens a completed record for its appraiser to change; the reason is kept.

    The sign-offs are cleared (they are kept in the record's history and the audit trail): the
    changed record must be shared and signed again.
    """
    permissions_of(by, appraisal, given=permissions).require_party(Action.REOPEN)
    reason = normalise_text(reason)
    if not reason:
        raise ValidationError({"reason": "Give the reason for reopening a completed record."})
    values = {
        "shared_at": None,
        "staff_agrees": None,
        "staff_comments": "",
        "signed_off_at": None,
        "signed_off_by": None,
        "countersign_comments": "",
        "countersigned_at": None,
        "countersigned_by": None,
        "completed_at": None,
        **REFERRAL_CLEARED,
    }
    with transaction.atomic():
        appraisal = _transition(
            appraisal,
            by=by,
            step=Action.REOPEN,
            action="reopen",
            to=State.MANAGER_REVIEW,
            revision=revision,
            values=values,
            comment=reason,
            notify=notifications.reopened,
        )
        record_pdfs.forget(appraisal)  # the kept PDF is of the record as it was
    return appraisal


# --- a disagreement ---------------------------------------------------------------------------------

# The person's signature and comments, cleared when the record goes back to be discussed and signed
# again (they stay in its history and the audit trail).
SIGN_OFF_CLEARED: dict[str, Any] = {
    "shared_at": None,
    "staff_agrees": None,
    "staff_comments": "",
    "signed_off_at": None,
    "signed_off_by": None,
}
REFERRAL_CLEARED: dict[str, Any] = {
    "referred_at": None,
    "referred_to": None,
    "referral_note": "",
    "referral_decision": "",
    "referral_decided_at": None,
    "referral_decided_by": None,
}
# Whom a disagreement can be referred to (`refer`'s `to`).
TO_MANAGER, TO_HR = "manager", "hr"


def take_back(
    *,
    by: User,
    appraisal: Appraisal,
    reason: str,
    revision: int | None = None,
    permissions: Permissions | None = None,
) -> Appraisal:
    """Instead of countersigning, the appraiser takes the signed record back to discuss it with the
    person: it returns to manager review, to be shared and signed again (the signature is cleared)."""
    permissions_of(by, appraisal, given=permissions).require_party(Action.TAKE_BACK)
    reason = normalise_text(reason)
    if not reason:
        raise ValidationError({"reason": f"Say what you will discuss with {appraisal.staff_member}."})
    return _transition(
        appraisal,
        by=by,
        step=Action.TAKE_BACK,
        action="take back to discuss",
        to=State.MANAGER_REVIEW,
        revision=revision,
        values=dict(SIGN_OFF_CLEARED),
        comment=reason,
        notify=notifications.taken_back,
    )


def referee_for(appraisal: Appraisal) -> StaffMember | None:
    """The line manager's manager, to whom the appraiser can refer a disagreement: still here, and
    neither the person nor the appraiser; None when there is nobody (HR only, then)."""
    line_manager = appraisal.staff_member.line_manager
    above = line_manager.line_manager if line_manager is not None else None
    if above is None or not above.is_active_on(timezone.localdate()):
        return None
    if above.pk in (appraisal.staff_member_id, appraisal.appraiser_id):
        return None
    return above


def refer(
    *,
    by: User,
    appraisal: Appraisal,
    to: str,
    note: str,
    revision: int | None = None,
    permissions: Permissions | None = None,
) -> Appraisal:
    """The person disagrees: rather than countersign, the appraiser refers the record to the line
    manager's manager (`to` TO_MANAGER) or to HR (TO_HR), who are told and decide (`decide_referral`)."""
    permissions_of(by, appraisal, given=permissions).require_party(Action.REFER)
    note = normalise_text(note)
    errors = {}
    if appraisal.staff_agrees is not False:
        errors["to"] = f"{appraisal.staff_member} agreed with the record: countersign it, or take it back."
    referee = referee_for(appraisal) if to == TO_MANAGER else None
    if to == TO_MANAGER and referee is None:
        errors["to"] = f"{appraisal.staff_member}'s line manager has no manager here to refer it to: refer it to HR."
    elif to not in (TO_MANAGER, TO_HR):
        errors["to"] = "Choose whom to refer it to."
    if not note:
        errors["note"] = "Say what the disagreement is about and what you would like decided."
    if errors:
        raise ValidationError(errors)
    return _transition(
        appraisal,
        by=by,
        step=Action.REFER,
        action="refer to the line manager's manager" if referee else "refer to HR",
        to=State.REFERRED,
        revision=revision,
        values={"referred_at": timezone.now(), "referred_to": referee, "referral_note": note},
        comment=note,
        notify=notifications.referred,
    )


# What the referee decides (`decide_referral`'s `outcome`).
UPHOLD, RETURN = "complete", "return"


def decide_referral(
    *,
    by: User,
    appraisal: Appraisal,
    outcome: str,
    decision: str,
    revision: int | None = None,
    permissions: Permissions | None = None,
) -> Appraisal:
    """The referee decides a referred disagreement: complete the record as it stands (UPHOLD; the
    decision is kept with it, and the person's disagreement too), or return it to the appraiser to
    change (RETURN: back to manager review, to be shared and signed again)."""
    permissions_of(by, appraisal, given=permissions).require_party(Action.DECIDE_REFERRAL)
    decision = normalise_text(decision)
    errors = {}
    if outcome not in (UPHOLD, RETURN):
        errors["outcome"] = "Choose what happens to the record."
    if not decision:
        errors["decision"] = "Give your decision and the reasons for it: the person and the appraiser are told."
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    if outcome == RETURN:
        return _transition(
            appraisal,
            by=by,
            step=Action.DECIDE_REFERRAL,
            action="referral decided: returned for changes",
            to=State.MANAGER_REVIEW,
            revision=revision,
            values={**SIGN_OFF_CLEARED, **REFERRAL_CLEARED},
            comment=decision,
            notify=lambda returned: notifications.referral_returned(returned, decision),
        )
    return _transition(
        appraisal,
        by=by,
        step=Action.DECIDE_REFERRAL,
        action="referral decided: completed",
        to=State.COMPLETED,
        revision=revision,
        values={
            "referral_decision": decision,
            "referral_decided_at": now,
            "referral_decided_by": by,
            "countersigned_at": now,
            "countersigned_by": by,
            "completed_at": now,
        },
        comment=decision,
        notify=notifications.referral_completed,
    )


# --- the appraiser --------------------------------------------------------------------------------


def reassign_appraiser(
    *, by: User, appraisal: Appraisal, appraiser: StaffMember, reason: str, permissions: Permissions | None = None
) -> Appraisal:
    """Give an appraisal to another appraiser (any state but completed)."""
    permissions_of(by, appraisal, given=permissions).require_party(Action.REASSIGN)
    return hand_over_appraisal(by=by, appraisal=appraisal, appraiser=appraiser, reason=reason)


def appraiser_problem(appraisal: Appraisal, appraiser: StaffMember, *, on: datetime.date | None = None) -> str | None:
    """Why `appraiser` cannot conduct this appraisal from `on` (today if None), or None."""
    if appraiser.pk == appraisal.staff_member_id:
        return "A person cannot appraise themselves."
    if not appraiser.is_active_on(on or timezone.localdate()):
        return f"{appraiser} has left the organisation."
    if appraiser.pk == appraisal.appraiser_id:
        return f"{appraiser} is already the appraiser."
    return None


def hand_over_appraisal(*, by: User | None, appraisal: Appraisal, appraiser: StaffMember, reason: str) -> Appraisal:
    """Give an appraisal to another appraiser: `reassign_appraiser` once HR's rights are checked, or a
    handover from a leaver that comes due (`by` is then the HR admin who recorded it, or None)."""
    errors = {}
    if (problem := appraiser_problem(appraisal, appraiser)) is not None:
        errors["appraiser"] = problem
    reason = normalise_text(reason)
    if not reason:
        errors["reason"] = "Say why the appraiser changes."
    if errors:
        raise ValidationError(errors)
    previous = appraisal.appraiser
    with transaction.atomic():
        advance(appraisal, by=by, expect=STEPS[Action.REASSIGN].states, revision=None, values={"appraiser": appraiser})
        record_event(
            appraisal,
            by=by,
            action="reassign",
            from_state=appraisal.state,
            comment=f"{previous} → {appraiser}: {reason}",
        )
        audit(appraisal, by, "reassign", {"appraiser": [str(previous), str(appraiser)], "reason": reason})
        notifications.appraiser_assigned(appraisal)
    return appraisal


# --- moving from one state to the next ------------------------------------------------------------


def _transition(
    appraisal: Appraisal,
    *,
    by: User,
    step: Action,
    action: str,
    to: str,
    revision: int | None = None,
    values: dict[str, Any] | None = None,
    comment: str = "",
    check: Callable[[Appraisal, list[ScoredCompetency]], None] | None = None,
    notify: Callable[[Appraisal], None] | None = None,
) -> Appraisal:
    """Take `step` (written in the record's history and the audit trail as `action`): move the appraisal
    from the state the step starts from (`appraisal.permissions.STEPS`) to `to`, in one transaction;
    `check` may refuse (and roll back)."""
    (expect,) = STEPS[step].states  # each step of the workflow starts from one state
    values = values or {}
    with transaction.atomic():
        previous = advance(appraisal, by=by, expect=[expect], revision=revision, values=values, to_state=to)
        changes = {"state": [State(expect).label, State(to).label], **_workflow_changes(previous, values)}
        if check:
            scored = scored_competencies(appraisal)
            changes.update(rederive(appraisal, scored))
            appraisal.meeting_date = Appraisal.objects.values_list("meeting_date", flat=True).get(pk=appraisal.pk)
            check(appraisal, scored)
        record_event(appraisal, by=by, action=action, from_state=expect, to_state=to, comment=comment)
        if comment and comment not in [pair[1] for pair in changes.values()]:  # not already recorded as comments
            changes["reason"] = comment
        audit(appraisal, by, action, changes)
        if notify:
            notify(appraisal)
        if to == State.COMPLETED:
            # The record is now fixed: its PDF is made once, by a worker, and kept (appraisal/record_pdfs.py).
            enqueue_on_commit("make record pdf", "appraisal.record_pdfs.make", appraisal.pk)
    return appraisal


# How the audit trail names the fields a step of the workflow sets or clears. A time or a signature
# that the step sets is the entry's own time and actor, so only clearing one is recorded.
WORKFLOW_FIELDS = {
    "staff_agrees": "agrees",
    "staff_comments": "staff comments",
    "countersign_comments": "countersignature comments",
    "shared_at": "shared",
    "signed_off_at": "signed off",
    "signed_off_by": "signed off by",
    "countersigned_at": "countersigned",
    "countersigned_by": "countersigned by",
    "completed_at": "completed",
    "referred_at": "referred",
    "referral_note": "referral",
    "referral_decision": "decision on the referral",
    "referral_decided_at": "referral decided",
    "referral_decided_by": "referral decided by",
}


def _workflow_changes(previous: dict[str, Any], values: dict[str, Any]) -> Changes:
    """{label: [before, after]} for the workflow fields `values` changed (see WORKFLOW_FIELDS)."""
    changed = [
        name
        for name in WORKFLOW_FIELDS
        if name in values
        and previous[name] != values[name]
        and not (name.endswith(("_at", "_by")) and values[name] is not None)
    ]
    signers = [previous[name] for name in changed if name.endswith("_by") and previous[name] is not None]
    names = {user.pk: user for user in get_user_model().objects.filter(pk__in=signers)} if signers else {}
    return {
        WORKFLOW_FIELDS[name]: [
            names.get(previous[name], previous[name]) if name.endswith("_by") else previous[name],
            values[name],
        ]
        for name in changed
    }
