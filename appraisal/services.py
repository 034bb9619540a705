"""Every change to a cycle or an appraisal: one function per verb, atomic, checked and audited.

Who may do what, in which state:

| action                   | who                    | from state                        | to state             |
|--------------------------|------------------------|-----------------------------------|----------------------|
| save_self_assessment     | the staff member       | self-assessment                   | (same)               |
| submit_self_assessment   | the staff member       | self-assessment                   | manager review       |
| begin_review             | the appraiser          | self-assessment                   | manager review       |
| save_review              | the appraiser          | manager review                    | (same)               |
| share                    | the appraiser          | manager review                    | awaiting sign-off    |
| withdraw                 | the appraiser          | awaiting sign-off                 | manager review       |
| sign_off                 | the staff member       | awaiting sign-off                 | awaiting countersign |
| countersign              | the appraiser          | awaiting countersign              | completed            |
| reopen                   | an HR admin            | completed                         | manager review       |
| reassign_appraiser       | an HR admin            | any but completed                 | (same)               |

A refusal because of who asks is `NotAllowed` (403); because the record has moved on, or another
save came first, `StaleRecord`; because of what was entered, `ValidationError`. Every change bumps
`Appraisal.revision` with a conditional UPDATE, so of two saves made from the same revision only
the first applies, on SQLite and PostgreSQL alike.
"""

import datetime
from collections import defaultdict
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from appraisal import notifications
from audit import trail
from appraisal.models import (
    RATING_LABELS,
    Appraisal,
    AppraisalCycle,
    AppraisalEvent,
    IndicatorRating,
    MeasureReview,
    ScoredCompetency,
)
from appraisal.permissions import Action, NotAllowed, Permissions, checked
from appraisal.rules import WindowLevel, derive_level
from appraisal.selectors import NotAppraised, appraisal_candidates, earlier_records
from competencies.models import Indicator
from competencies.selectors import framework_competencies
from core.dates import meeting_date_problem
from core.text import normalise_text
from core.access import is_hr_admin
from roles.models import RoleProfileVersion, RoleRequirement
from staff.models import StaffMember

State = Appraisal.State


class StaleRecord(Exception):
    """The appraisal changed since the form was loaded (another save, or a change of state)."""

    def __init__(self, appraisal: Appraisal, message: str):
        super().__init__(message)
        self.appraisal = appraisal
        self.message = message


# --- cycles ---------------------------------------------------------------------------------------


def create_cycle(
    *, by, name: str, period_start: datetime.date, period_end: datetime.date, due_on: datetime.date, self_assessment: bool
) -> AppraisalCycle:
    _require_hr(by)
    cycle = AppraisalCycle(
        name=normalise_text(name),
        period_start=period_start,
        period_end=period_end,
        due_on=due_on,
        self_assessment=self_assessment,
        created_by=by,
    )
    cycle.full_clean()
    with transaction.atomic():
        cycle.save()
        trail.record(
            actor=by,
            action="create",
            obj=cycle,
            object_type="appraisal cycle",
            changes={"period": cycle.period_label, "due": str(due_on), "self-assessment": self_assessment},
        )
    return cycle


@dataclass
class OpeningResult:
    created: list[Appraisal] = field(default_factory=list)
    not_appraised: list[NotAppraised] = field(default_factory=list)


def open_cycle(*, by, cycle: AppraisalCycle) -> OpeningResult:
    """Create an appraisal for every active member of staff who has none in this cycle yet.

    Each gets the current published version of the role profile they hold and their line manager
    as appraiser. Opening again (after HR has fixed someone's record) adds only the missing ones.
    People with no role profile, no published version of it, or no line manager are returned in
    `not_appraised`, and shown on the cycle's page until fixed.
    """
    _require_hr(by)
    now = timezone.now()
    with transaction.atomic():
        cycle = AppraisalCycle.objects.select_for_update().get(pk=cycle.pk)
        candidates, problems, versions = appraisal_candidates(cycle)
        result = OpeningResult(not_appraised=problems)
        appraisals = create_appraisals(
            cycle=cycle,
            by=by,
            at=now,
            assignments=[(person.pk, person.line_manager_id, versions[person.role_profile_id]) for person in candidates],
        )
        first_opening = cycle.opened_at is None
        if first_opening:
            cycle.opened_at, cycle.opened_by = now, by
            cycle.save(update_fields=["opened_at", "opened_by"])
        trail.record(
            actor=by,
            action="open" if first_opening else "open again",
            obj=cycle,
            object_type="appraisal cycle",
            changes={
                "appraisals created": len(appraisals),
                "not appraised": [f"{entry.staff_member}: {entry.reason}" for entry in result.not_appraised],
            },
        )
        _audit_opened(appraisals, by=by, cycle=cycle, people={person.pk: person for person in candidates})
        result.created = appraisals
        notifications.cycle_opened(cycle, appraisals)
    return result


def create_appraisals(*, cycle: AppraisalCycle, by, at, assignments: list[tuple[int, int, RoleProfileVersion]]) -> list[Appraisal]:
    """Create one appraisal in `cycle` per (staff member id, appraiser id, role profile version), each
    with its window copied from the version as the framework stands now, and an "open" event.

    Call inside a transaction. The first state is self-assessment when the cycle asks for it.
    """
    snapshots = window_snapshots({version.pk: version for _, _, version in assignments}.values())
    state = State.SELF_ASSESSMENT if cycle.self_assessment else State.MANAGER_REVIEW
    appraisals = Appraisal.objects.bulk_create(
        [
            Appraisal(
                cycle=cycle,
                staff_member_id=person_id,
                appraiser_id=appraiser_id,
                role_version=version,
                state=state,
                created_at=at,
                updated_at=at,
                updated_by=by,
            )
            for person_id, appraiser_id, version in assignments
        ]
    )
    if appraisals and appraisals[0].pk is None:  # backends that do not return ids from bulk_create
        by_person = dict(Appraisal.objects.filter(cycle=cycle).values_list("staff_member_id", "pk"))
        for appraisal in appraisals:
            appraisal.pk = by_person[appraisal.staff_member_id]
    ScoredCompetency.objects.bulk_create(
        [ScoredCompetency(appraisal_id=appraisal.pk, **row) for appraisal in appraisals for row in snapshots[appraisal.role_version_id]],
        batch_size=2000,
    )
    AppraisalEvent.objects.bulk_create(
        [AppraisalEvent(appraisal_id=appraisal.pk, at=at, by=by, action="open", to_state=state) for appraisal in appraisals],
        batch_size=2000,
    )
    return appraisals


def _audit_opened(appraisals: list[Appraisal], *, by, cycle: AppraisalCycle, people: dict[int, StaffMember]) -> None:
    """One "open" entry per appraisal created, about its person, written in one query."""
    entries = []
    for appraisal in appraisals:
        person = people[appraisal.staff_member_id]
        changes = {
            "state": [None, State(appraisal.state).label],
            "appraiser": [None, str(person.line_manager)],
            "role profile version": [None, str(appraisal.role_version)],
        }
        entries.append(
            trail.build(actor=by, action="open", obj=appraisal, object_type="appraisal", person=person.pk,
                        object_repr=f"{person} – {cycle}", changes=changes)
        )
    trail.record_all(entries)


def reassign_appraiser(
    *, by, appraisal: Appraisal, appraiser: StaffMember, reason: str, permissions: Permissions | None = None
) -> Appraisal:
    """Give an appraisal to another appraiser (any state but completed)."""
    checked(permissions, by=by, appraisal=appraisal).require_party(Action.REASSIGN)
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


def hand_over_appraisal(*, by, appraisal: Appraisal, appraiser: StaffMember, reason: str) -> Appraisal:
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
        appraisal = _advance(appraisal, by=by, expect=[s for s in State if s != State.COMPLETED], revision=None, values={"appraiser": appraiser})
        _event(appraisal, by=by, action="reassign", from_state=appraisal.state, comment=f"{previous} → {appraiser}: {reason}")
        _audit(appraisal, by, "reassign", {"appraiser": [str(previous), str(appraiser)], "reason": reason})
        notifications.appraiser_assigned(appraisal)
    return appraisal


# --- saving drafts --------------------------------------------------------------------------------


def save_self_assessment(
    *, by, appraisal: Appraisal, revision: int, ratings: dict[int, tuple[str, str]], comments: str, permissions: Permissions | None = None
) -> Appraisal:
    """Save the staff member's own ratings ({indicator id: (rating, evidence)}) and comments."""
    checked(permissions, by=by, appraisal=appraisal).require_party(Action.SELF_ASSESS)
    with transaction.atomic():
        appraisal = _advance(
            appraisal, by=by, expect=[State.SELF_ASSESSMENT], revision=revision, values={"self_assessment_comments": normalise_text(comments)}
        )
        scored = _scored(appraisal)
        changes = _save_ratings(scored, ratings, rating_field="self_rating", evidence_field="self_evidence")
        if appraisal.previous_values["self_assessment_comments"] != appraisal.self_assessment_comments:
            changes["Comments on the year"] = [appraisal.previous_values["self_assessment_comments"], appraisal.self_assessment_comments]
        changes.update(_rederive(appraisal, scored))
        _audit(appraisal, by, "save self-assessment", changes)
    return appraisal


def save_review(
    *,
    by,
    appraisal: Appraisal,
    revision: int,
    ratings: dict[int, tuple[str, str]],
    overrides: dict[int, tuple[int | None, str]],
    measures: dict[int, str],
    meeting_date: datetime.date | None,
    objectives: str,
    development_plan: str,
    manager_comments: str,
    permissions: Permissions | None = None,
) -> Appraisal:
    """Save the appraiser's draft: ratings and evidence per indicator ({indicator id: (rating, evidence)}),
    overrides per competency ({competency id: (level or None, reason)}), a comment per performance
    measure ({measure id: comment}) and the record's other fields."""
    checked(permissions, by=by, appraisal=appraisal).require_party(Action.SCORE)
    if (problem := meeting_date_problem(meeting_date, period_start=appraisal.cycle.period_start)) is not None:
        raise ValidationError({"meeting_date": problem})
    values = {
        "meeting_date": meeting_date,
        "objectives": normalise_text(objectives),
        "development_plan": normalise_text(development_plan),
        "manager_comments": normalise_text(manager_comments),
    }
    with transaction.atomic():
        appraisal = _advance(appraisal, by=by, expect=[State.MANAGER_REVIEW], revision=revision, values=values)
        changes = trail.field_changes(appraisal.previous_values, values)
        scored = _scored(appraisal)
        changes.update(_save_ratings(scored, ratings, rating_field="rating", evidence_field="evidence"))
        changes.update(_save_overrides(scored, overrides))
        changes.update(_save_measure_reviews(appraisal, measures))
        changes.update(_rederive(appraisal, scored))
        _audit(appraisal, by, "save review", changes)
    return appraisal


# --- workflow -------------------------------------------------------------------------------------


def submit_self_assessment(*, by, appraisal: Appraisal, revision: int | None = None, permissions: Permissions | None = None) -> Appraisal:
    checked(permissions, by=by, appraisal=appraisal).require_party(Action.SUBMIT_SELF_ASSESSMENT)
    return _transition(appraisal, by=by, action="submit self-assessment", expect=State.SELF_ASSESSMENT, to=State.MANAGER_REVIEW,
                       revision=revision, notify=notifications.review_due)


def begin_review(*, by, appraisal: Appraisal, revision: int | None = None, permissions: Permissions | None = None) -> Appraisal:
    """The appraiser goes ahead without waiting any longer for the self-assessment (what is saved of it is kept)."""
    checked(permissions, by=by, appraisal=appraisal).require_party(Action.BEGIN_REVIEW)
    return _transition(appraisal, by=by, action="begin review without self-assessment", expect=State.SELF_ASSESSMENT,
                       to=State.MANAGER_REVIEW, revision=revision, notify=notifications.review_begun)


def share(*, by, appraisal: Appraisal, revision: int | None = None, permissions: Permissions | None = None) -> Appraisal:
    """Share the record with the staff member for sign-off: every competency scored, the meeting held."""
    checked(permissions, by=by, appraisal=appraisal).require_party(Action.SHARE)
    return _transition(appraisal, by=by, action="share", expect=State.MANAGER_REVIEW, to=State.AWAITING_SIGN_OFF, revision=revision,
                       values={"shared_at": timezone.now()}, check=_ready_to_share, notify=notifications.sign_off_due)


def _ready_to_share(appraisal: Appraisal, scored: list[ScoredCompetency]) -> None:
    problems = {}
    unscored = [competency.name for competency in scored if competency.achieved_level is None]
    if unscored:
        problems["competencies"] = "Rate the indicators of " + ", ".join(unscored) + " before sharing (or override the level, with a reason)."
    if appraisal.meeting_date is None:
        problems["meeting_date"] = "Record the date of the appraisal meeting before sharing."
    if problems:
        raise ValidationError(problems)


def withdraw(
    *, by, appraisal: Appraisal, reason: str = "", revision: int | None = None, permissions: Permissions | None = None
) -> Appraisal:
    """Take a shared record back to make changes before the staff member signs it."""
    checked(permissions, by=by, appraisal=appraisal).require_party(Action.WITHDRAW)
    return _transition(appraisal, by=by, action="withdraw", expect=State.AWAITING_SIGN_OFF, to=State.MANAGER_REVIEW, revision=revision,
                       values={"shared_at": None}, comment=reason, notify=notifications.withdrawn)


def sign_off(
    *, by, appraisal: Appraisal, agrees: bool, comments: str, revision: int | None = None, permissions: Permissions | None = None
) -> Appraisal:
    """The staff member signs the record, with comments; `agrees=False` records their disagreement."""
    checked(permissions, by=by, appraisal=appraisal).require_party(Action.SIGN_OFF)
    comments = normalise_text(comments)
    if not agrees and not comments:
        raise ValidationError({"comments": "Say what you disagree with, so that your manager and HR can see it."})
    return _transition(appraisal, by=by, action="sign off" if agrees else "sign off, disagreeing", expect=State.AWAITING_SIGN_OFF,
                       to=State.AWAITING_COUNTERSIGN, revision=revision,
                       values={"staff_agrees": agrees, "staff_comments": comments, "signed_off_at": timezone.now(), "signed_off_by": by},
                       comment=comments, notify=notifications.countersign_due)


def countersign(
    *, by, appraisal: Appraisal, comments: str = "", revision: int | None = None, permissions: Permissions | None = None
) -> Appraisal:
    """The appraiser countersigns: the appraisal is completed and locked."""
    checked(permissions, by=by, appraisal=appraisal).require_party(Action.COUNTERSIGN)
    now = timezone.now()
    comments = normalise_text(comments)
    return _transition(appraisal, by=by, action="countersign", expect=State.AWAITING_COUNTERSIGN, to=State.COMPLETED, revision=revision,
                       values={"countersign_comments": comments, "countersigned_at": now, "countersigned_by": by, "completed_at": now},
                       comment=comments, notify=notifications.completed)


def reopen(
    *, by, appraisal: Appraisal, reason: str, revision: int | None = None, permissions: Permissions | None = None
) -> Appraisal:
    """An HR admin reopens a completed record for its appraiser to change; the reason is kept.

    The sign-offs are cleared (they are kept in the record's history and the audit trail): the
    changed record must be shared and signed again.
    """
    checked(permissions, by=by, appraisal=appraisal).require_party(Action.REOPEN)
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
    }
    return _transition(appraisal, by=by, action="reopen", expect=State.COMPLETED, to=State.MANAGER_REVIEW, revision=revision,
                       values=values, comment=reason, notify=notifications.reopened)


# --- helpers --------------------------------------------------------------------------------------


def _require_hr(user) -> None:
    if not is_hr_admin(user):
        raise NotAllowed("Only HR admins can do this.")


def _advance(appraisal: Appraisal, *, by, expect, revision: int | None, values: dict, to_state: str | None = None) -> Appraisal:
    """Apply `values` (and a new state) to the appraisal if it is still in an `expect`ed state and,
    when `revision` is given, still at that revision; bump the revision. Call inside a transaction.

    Returns the appraisal as now saved, with `previous_values` holding what the changed fields were.
    Raises StaleRecord, naming who changed it, when another change came first.
    """
    names = list(values) + (["state"] if to_state else [])
    previous = Appraisal.objects.filter(pk=appraisal.pk).order_by().values(*names, "state", "revision").first()
    now = timezone.now()
    update = {**values, "revision": F("revision") + 1, "updated_at": now, "updated_by": by}
    if to_state:
        update["state"] = to_state
    rows = Appraisal.objects.filter(pk=appraisal.pk, state__in=list(expect))
    if revision is not None:
        rows = rows.filter(revision=revision)
    if previous is None or not rows.update(**update):
        current = Appraisal.objects.select_related("updated_by").get(pk=appraisal.pk)
        raise StaleRecord(current, _stale_message(current, expect, revision))
    for name, value in values.items():
        setattr(appraisal, name, value)
    appraisal.state = to_state or previous["state"]
    appraisal.revision = previous["revision"] + 1
    appraisal.updated_at, appraisal.updated_by = now, by
    appraisal.previous_values = previous
    return appraisal


def _stale_message(current: Appraisal, expect, revision: int | None) -> str:
    who = current.updated_by.get_full_name() or current.updated_by.username if current.updated_by else "someone"
    when = timezone.localtime(current.updated_at).strftime("%-d %B %Y at %H:%M")
    if current.state not in list(expect):
        return f"This appraisal is now “{current.get_state_display()}” ({who}, {when}), so this can no longer be done."
    return f"{who} saved this appraisal on {when}, after you opened it. Nothing of yours was saved."


def _transition(appraisal, *, by, action, expect, to, revision=None, values=None, comment="", check=None, notify=None) -> Appraisal:
    """Move the appraisal from `expect` to `to` in one transaction; `check` may refuse (and roll back)."""
    values = values or {}
    with transaction.atomic():
        appraisal = _advance(appraisal, by=by, expect=[expect], revision=revision, values=values, to_state=to)
        changes = {"state": [State(expect).label, State(to).label], **_workflow_changes(appraisal.previous_values, values)}
        if check:
            scored = _scored(appraisal)
            changes.update(_rederive(appraisal, scored))
            appraisal.meeting_date = Appraisal.objects.values_list("meeting_date", flat=True).get(pk=appraisal.pk)
            check(appraisal, scored)
        _event(appraisal, by=by, action=action, from_state=expect, to_state=to, comment=comment)
        if comment and comment not in [pair[1] for pair in changes.values()]:  # not already recorded as comments
            changes["reason"] = comment
        _audit(appraisal, by, action, changes)
        if notify:
            notify(appraisal)
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
}


def _workflow_changes(previous: dict, values: dict) -> dict:
    """{label: [before, after]} for the workflow fields `values` changed (see WORKFLOW_FIELDS)."""
    changed = [
        name for name in WORKFLOW_FIELDS
        if name in values and previous[name] != values[name] and not (name.endswith(("_at", "_by")) and values[name] is not None)
    ]
    signers = [previous[name] for name in changed if name.endswith("_by") and previous[name] is not None]
    names = {user.pk: user for user in get_user_model().objects.filter(pk__in=signers)} if signers else {}
    return {
        WORKFLOW_FIELDS[name]: [names.get(previous[name], previous[name]) if name.endswith("_by") else previous[name], values[name]]
        for name in changed
    }


def _event(appraisal, *, by, action, from_state, to_state=None, comment="") -> AppraisalEvent:
    return AppraisalEvent.objects.create(
        appraisal=appraisal, by=by, action=action, from_state=from_state, to_state=to_state or from_state, comment=normalise_text(comment)
    )


def _audit(appraisal: Appraisal, by, action: str, changes: dict) -> None:
    trail.record(actor=by, action=action, obj=appraisal, object_type="appraisal", person=appraisal.staff_member_id, changes=changes)


def _scored(appraisal: Appraisal) -> list[ScoredCompetency]:
    return list(ScoredCompetency.objects.filter(appraisal=appraisal))


def _save_ratings(scored: list[ScoredCompetency], ratings: dict[int, tuple[str, str]], *, rating_field: str, evidence_field: str) -> dict:
    """Write the given indicators' ratings and evidence; indicators outside the appraisal are refused."""
    owner = {}
    for competency in scored:
        for level in competency.levels:
            for indicator_id in level.get("indicators") or ():
                owner[indicator_id] = (competency, level["number"])
    unknown = set(ratings) - set(owner)
    if unknown:
        raise ValidationError(f"These indicators are not part of this appraisal: {sorted(unknown)}.")
    for indicator_id, (rating, _evidence) in ratings.items():
        if rating and rating not in RATING_LABELS:
            raise ValidationError(f"“{rating}” is not a rating.")
    existing = {row.indicator_id: row for row in IndicatorRating.objects.filter(scored_competency__in=scored)}
    prefix = "self-" if rating_field == "self_rating" else ""  # how the audit trail names the field
    changed, to_create, to_update = [], [], []
    for indicator_id, (rating, evidence) in ratings.items():
        evidence = normalise_text(evidence)
        row = existing.get(indicator_id)
        before = (getattr(row, rating_field), getattr(row, evidence_field)) if row else ("", "")
        if before == (rating, evidence):
            continue
        changed.append((indicator_id, before, rating, evidence))
        if row is None:
            row = IndicatorRating(scored_competency=owner[indicator_id][0], indicator_id=indicator_id)
            to_create.append(row)
        else:
            to_update.append(row)
        setattr(row, rating_field, rating)
        setattr(row, evidence_field, evidence)
    IndicatorRating.objects.bulk_create(to_create)
    IndicatorRating.objects.bulk_update(to_update, [rating_field, evidence_field])
    # One audit entry for the whole save: each changed indicator, named by competency, level and words.
    texts = dict(Indicator.objects.filter(pk__in=[item[0] for item in changed]).values_list("pk", "text")) if changed else {}
    changes = {}
    for indicator_id, before, rating, evidence in changed:
        competency, number = owner[indicator_id]
        words = texts.get(indicator_id, "")
        key = f"{competency.name}, level {number}, indicator {indicator_id} ({words[:60]}{'…' if len(words) > 60 else ''})"
        if before[0] != rating:
            changes[f"{key}: {prefix}rating"] = [RATING_LABELS.get(before[0], "Not rated"), RATING_LABELS.get(rating, "Not rated")]
        if before[1] != evidence:
            changes[f"{key}: {prefix}evidence"] = [before[1], evidence]
    return changes


def _save_overrides(scored: list[ScoredCompetency], overrides: dict[int, tuple[int | None, str]]) -> dict:
    changes = {}
    rows = {row.competency_id: row for row in scored}
    errors = {}
    for competency_id, (level, reason) in overrides.items():
        row = rows.get(competency_id)
        if row is None:
            raise ValidationError(f"Competency {competency_id} is not part of this appraisal.")
        reason = normalise_text(reason)
        if level is not None and not row.entry_level - 1 <= level <= row.exceptional_level:
            errors[f"override-{competency_id}"] = f"Choose a level from below entry to {row.exceptional_level}."
        elif level is not None and not reason:
            errors[f"reason-{competency_id}"] = "Give the reason for overriding the derived level."
        if level is None:
            reason = ""  # no override, so no reason to keep
        if (row.override_level, row.override_reason) != (level, reason):
            changes[f"{row.name}: override level"] = [_override_label(row, row.override_level), _override_label(row, level)]
            if row.override_reason != reason:
                changes[f"{row.name}: override reason"] = [row.override_reason, reason]
            row.override_level, row.override_reason = level, reason
            row.save(update_fields=["override_level", "override_reason"])
    if errors:
        raise ValidationError(errors)
    return changes


def _override_label(row: ScoredCompetency, level: int | None) -> str:
    return "No override (the derived level)" if level is None else row.level_label(level)


def _save_measure_reviews(appraisal: Appraisal, measures: dict[int, str]) -> dict:
    valid = dict(appraisal.role_version.performance_measures.values_list("pk", "text"))
    unknown = set(measures) - set(valid)
    if unknown:
        raise ValidationError(f"These performance measures are not part of this role profile version: {sorted(unknown)}.")
    existing = {review.measure_id: review for review in MeasureReview.objects.filter(appraisal=appraisal)}
    changes, to_create, to_update = {}, [], []
    for measure_id, comment in measures.items():
        comment = normalise_text(comment)
        review = existing.get(measure_id)
        before = review.comment if review else ""
        if before == comment:
            continue
        changes[f"Performance measure: {valid[measure_id][:60]}"] = [before, comment]
        if review is None:
            to_create.append(MeasureReview(appraisal=appraisal, measure_id=measure_id, comment=comment))
        else:
            review.comment = comment
            to_update.append(review)
    MeasureReview.objects.bulk_create(to_create)
    MeasureReview.objects.bulk_update(to_update, ["comment"])
    return changes


def _rederive(appraisal: Appraisal, scored: list[ScoredCompetency]) -> dict:
    """Recompute each competency's derived level (manager's and self-assessed) from the saved ratings."""
    saved = defaultdict(list)
    for row in IndicatorRating.objects.filter(scored_competency__in=scored):
        saved[row.scored_competency_id].append(row)
    history = earlier_records(appraisal)
    period_end = appraisal.cycle.period_end
    changes, changed = {}, []
    for competency in scored:
        levels = [WindowLevel.from_snapshot(level) for level in competency.levels]
        ratings = {row.indicator_id: row.rating for row in saved[competency.pk]}
        self_ratings = {row.indicator_id: row.self_rating for row in saved[competency.pk]}
        records = history.get(competency.competency_id, [])
        derived = derive_level(levels, ratings, period_end=period_end, history=records)
        self_level = derive_level(levels, self_ratings, period_end=period_end, history=records)
        if (derived, self_level) != (competency.derived_level, competency.self_level):
            if derived != competency.derived_level:
                changes[f"{competency.name}: derived level"] = [competency.level_label(competency.derived_level), competency.level_label(derived)]
            if self_level != competency.self_level:
                changes[f"{competency.name}: self-assessed level"] = [competency.level_label(competency.self_level), competency.level_label(self_level)]
            competency.derived_level, competency.self_level = derived, self_level
            changed.append(competency)
    ScoredCompetency.objects.bulk_update(changed, ["derived_level", "self_level"])
    return changes


def window_snapshots(versions) -> dict[int, list[dict]]:
    """{version id: [ScoredCompetency field values, ...]}: each required competency's window as it stands now."""
    versions = list(versions)
    requirements = list(RoleRequirement.objects.filter(version__in=versions).order_by("version_id", "position"))
    competencies = {
        competency.pk: competency for competency in framework_competencies().filter(pk__in={r.competency_id for r in requirements})
    }
    snapshots = {version.pk: [] for version in versions}
    for requirement in requirements:
        competency = competencies[requirement.competency_id]
        levels = {level.number: level for level in competency.levels.all() if level.retired_at is None}
        snapshots[requirement.version_id].append(
            {
                "competency_id": competency.pk,
                "position": requirement.position,
                "name": competency.name,
                "entry_level": requirement.entry_level,
                "levels": [level_snapshot(levels[number]) for number in requirement.window if number in levels],
            }
        )
    return snapshots


def level_snapshot(level) -> dict:
    """One level of the framework as an appraisal keeps it; `level` comes from `framework_competencies()`,
    so `level.indicators.all()` holds its current indicators in order."""
    return {
        "number": level.number,
        "lead": level.lead,
        "rule_text": level.rule_text,
        "sustained_level": level.sustained_level,
        "sustained_months": level.sustained_months,
        "indicators": [indicator.pk for indicator in level.indicators.all()],
    }
