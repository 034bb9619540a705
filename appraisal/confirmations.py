"""What each irreversible step of an appraisal says before it is taken (`core.confirm`): what is
incomplete, who will be told, what cannot be undone. A few queries, whatever the record's size."""

from collections import Counter

from django.urls import reverse

from appraisal.models import Appraisal, IndicatorRating, ScoredCompetency
from appraisal.services.workflow import UPHOLD
from core.confirm import Confirmation
from core.text import counted
from staff.models import user_can_sign_in

State = Appraisal.State


def _names(names: list[str], limit: int = 4) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _emailed(person, what: str) -> str:
    """Whether `person` is emailed `what` ("Sam Patel is emailed …"), or why not and what to do instead."""
    told = f"tell them yourself {what}" if what.startswith("that ") else f"let them know yourself ({what})"
    if not person.user.email:
        return f"{person} has no email address here: {told}."
    if not user_can_sign_in(person.user, person):
        return f"{person} cannot sign in yet (HR can invite them), so is not emailed: {told}."
    return f"{person} is emailed {what}."


def _base(appraisal: Appraisal, url_name: str, **kwargs) -> Confirmation:
    record = reverse("appraisal", args=[appraisal.pk])
    return Confirmation(
        action=reverse(url_name, args=[appraisal.pk]),
        back_url=record,
        breadcrumbs=[
            ("Appraisals", reverse("appraisal_list")),
            (f"{appraisal.staff_member}, {appraisal.cycle}", record),
        ],
        **kwargs,
    )


def unrated_self_assessment(appraisal: Appraisal) -> str | None:
    """ "34 indicators not rated in 3 competencies (…)" of the person's self-assessment, or None (two queries)."""
    rated = Counter(
        IndicatorRating.objects.filter(scored_competency__appraisal=appraisal)
        .exclude(self_rating="")
        .values_list("scored_competency_id", flat=True)
        .order_by()
    )
    counts = []
    for pk, name, levels in (
        ScoredCompetency.objects.filter(appraisal=appraisal).order_by("position").values_list("pk", "name", "levels")
    ):
        unrated = sum(len(level.get("indicators", [])) for level in levels) - rated[pk]
        if unrated > 0:
            counts.append((name, unrated))
    if not counts:
        return None
    total = sum(count for _, count in counts)
    return (
        f"{counted(total, 'indicator')} not rated in {counted(len(counts), 'competency', 'competencies')}"
        f" ({_names([name for name, _ in counts])})."
    )


def submit_self_assessment(appraisal: Appraisal) -> Confirmation:
    incomplete = [line for line in [unrated_self_assessment(appraisal)] if line]
    if not appraisal.self_assessment_comments.strip():
        incomplete.append("No comments on the year.")
    return _base(
        appraisal,
        "appraisal_submit_self_assessment",
        title=f"Send your self-assessment to {appraisal.appraiser}?",
        lead="Your manager reads it before your appraisal meeting and scores the record beside it.",
        button="Send my self-assessment",
        incomplete=incomplete,
        notified=[_emailed(appraisal.appraiser, "that your self-assessment is ready")],
        irreversible=["You can't change your self-assessment after sending it: it is kept as you sent it."],
    )


def share(appraisal: Appraisal) -> Confirmation:
    """Sharing needs every competency scored and the meeting date (`workflow.share` refuses without them)."""
    unscored = list(
        ScoredCompetency.objects.filter(appraisal=appraisal, override_level__isnull=True, derived_level__isnull=True)
        .order_by("position")
        .values_list("name", flat=True)
    )
    blocking = []
    if unscored:
        blocking.append(f"{counted(len(unscored), 'competency', 'competencies')} not scored yet: {_names(unscored)}.")
    if appraisal.meeting_date is None:
        blocking.append("The date of the appraisal meeting is not recorded.")
    incomplete = [
        f"No {label}."
        for label, value in (
            ("overall comments", appraisal.manager_comments),
            ("objectives for the next year", appraisal.objectives),
            ("development plan", appraisal.development_plan),
        )
        if not value.strip()
    ]
    return _base(
        appraisal,
        "appraisal_share",
        title=f"Share the record with {appraisal.staff_member} for sign-off?",
        lead=f"{appraisal.staff_member} will read your scores and comments, add their own and sign it off.",
        button="Share the record",
        blocking=blocking,
        incomplete=incomplete,
        notified=[_emailed(appraisal.staff_member, "that the record is ready to read and sign")],
        irreversible=[
            f"{appraisal.staff_member} sees every score and comment from now on. You can take the record back to "
            "change it until they sign it, but not unshare what they have read."
        ],
    )


def sign_off(appraisal: Appraisal, *, agrees: bool, comments: str) -> Confirmation:
    return _base(
        appraisal,
        "appraisal_sign_off",
        title="Sign off your appraisal?" if agrees else "Sign off your appraisal, recording that you disagree?",
        button="Sign off" if agrees else "Sign off, disagreeing",
        incomplete=[] if comments.strip() else ["You have written no comments."],
        details=[
            ("Your answer", "I agree with this record" if agrees else "I disagree with this record"),
            ("Your comments", comments.strip() or "None"),
        ],
        notified=[
            _emailed(appraisal.appraiser, "to countersign" if agrees else "to countersign, with your disagreement")
        ],
        irreversible=[
            "You can't change your answer or your comments after signing: they are kept with the record."
            + (
                ""
                if agrees
                else " Your manager can countersign noting your disagreement, take the record back to "
                "discuss it with you, or refer it to their manager or HR."
            )
        ],
    )


def countersign(appraisal: Appraisal, *, comments: str) -> Confirmation:
    details = [("Your comments", comments.strip() or "None")]
    if appraisal.staff_agrees is False:
        details.insert(0, (f"{appraisal.staff_member} disagrees", appraisal.staff_comments or "(no comments)"))
    return _base(
        appraisal,
        "appraisal_countersign",
        title=f"Countersign and complete {appraisal.staff_member}'s appraisal?"
        + ("" if appraisal.staff_agrees is not False else " (noting their disagreement)"),
        button="Countersign and complete",
        details=details,
        notified=[_emailed(appraisal.staff_member, "that their appraisal is complete")],
        irreversible=[
            "The record is completed and locked: nobody can change it afterwards, only an HR admin can reopen it."
        ],
    )


def decide_referral(appraisal: Appraisal, *, outcome: str, decision: str) -> Confirmation:
    completing = outcome == UPHOLD
    return _base(
        appraisal,
        "appraisal_decide_referral",
        title=(
            f"Complete {appraisal.staff_member}'s appraisal as it stands?"
            if completing
            else f"Return {appraisal.staff_member}'s appraisal to {appraisal.appraiser} for changes?"
        ),
        button="Complete the record" if completing else "Return it for changes",
        details=[("Your decision", decision.strip())],
        notified=[
            _emailed(appraisal.staff_member, "of your decision"),
            _emailed(appraisal.appraiser, "of your decision"),
        ],
        irreversible=[
            "The record is completed and locked with the disagreement and your decision in it; only an HR admin "
            "can reopen it."
            if completing
            else "The person's signature is cleared: the record must be shared and signed again."
        ],
    )
