"""Who may do what to an appraisal, decided once per viewer and record.

`permissions_for(user, appraisal)` looks at who the viewer is to the record and at the record's
state, and returns a frozen `Permissions`. `appraisal.access` computes it where the record is
fetched; views and templates only read it; every service that changes an appraisal asserts it
(`Permissions.require_party`), computing it for the user it is given when no value is passed
(`permissions_of`), so a direct call is checked as well as a page.

Who the viewer is to the record: the person appraised (the owner), their appraiser, someone above
the person in the current line-management chain, or an HR admin with rights over the person; and,
while a disagreement is referred, the referee: the manager it was referred to, or (referred to HR,
or to a manager) any HR admin with rights over the person. An
HR admin on their own record has only the person's rights (`staff.access.hr_conflicts`); the
records of the people above them they do not see at all. Anyone else does not see the record (404).

Each step is taken by one party, in some states:

| action                   | by             | in state                          |
|--------------------------|----------------|-----------------------------------|
| SELF_ASSESS (fill in)    | the owner      | self-assessment                   |
| SUBMIT_SELF_ASSESSMENT   | the owner      | self-assessment                   |
| BEGIN_REVIEW             | the appraiser  | self-assessment                   |
| SCORE                    | the appraiser  | manager review                    |
| SHARE                    | the appraiser  | manager review                    |
| WITHDRAW                 | the appraiser  | awaiting sign-off                 |
| SIGN_OFF                 | the owner      | awaiting sign-off                 |
| COUNTERSIGN              | the appraiser  | awaiting countersign              |
| TAKE_BACK                | the appraiser  | awaiting countersign              |
| REFER                    | the appraiser  | awaiting countersign (disagreed)  |
| DECIDE_REFERRAL          | the referee    | referred                          |
| REOPEN                   | an HR admin    | completed                         |
| REASSIGN                 | an HR admin    | any but completed                 |

and the PDF (DOWNLOAD_PDF) is for whoever may see the manager's scores: the appraiser, the people
above the person and HR admins always, the owner once the record is shared with them.

A refusal because of who asks is `NotAllowed` (403). A step asked of the right party in the wrong
state is not a refusal: the service checks the state again where it writes, in the same UPDATE, and
a record that has moved on is `StaleRecord` (appraisal.services.revisions), saying who moved it.
"""

import enum
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied

from appraisal.models import Appraisal
from core.access import Person, is_hr_admin
from staff.access import hr_conflict_message, is_hr_admin_over, staff_member_for
from staff.hierarchy import managers_above

State = Appraisal.State


class NotAllowed(PermissionDenied):
    """The person asking may not do this to this appraisal (403)."""


class Party(enum.Enum):
    """Who takes a step of the workflow."""

    OWNER = "owner"
    APPRAISER = "appraiser"
    HR = "hr"
    REFEREE = "referee"


class Action(enum.StrEnum):
    """What a viewer may do to an appraisal."""

    SELF_ASSESS = "self_assess"
    SUBMIT_SELF_ASSESSMENT = "submit_self_assessment"
    BEGIN_REVIEW = "begin_review"
    SCORE = "score"
    SHARE = "share"
    WITHDRAW = "withdraw"
    SIGN_OFF = "sign_off"
    COUNTERSIGN = "countersign"
    TAKE_BACK = "take_back"
    REFER = "refer"
    DECIDE_REFERRAL = "decide_referral"
    REOPEN = "reopen"
    REASSIGN = "reassign"
    DOWNLOAD_PDF = "download_pdf"


@dataclass(frozen=True)
class Step:
    """One step of the workflow: who takes it, and in which states."""

    party: Party
    states: frozenset[str]

    def is_open_in(self, state: str) -> bool:
        return state in self.states


STEPS: dict[Action, Step] = {
    Action.SELF_ASSESS: Step(Party.OWNER, frozenset({State.SELF_ASSESSMENT})),
    Action.SUBMIT_SELF_ASSESSMENT: Step(Party.OWNER, frozenset({State.SELF_ASSESSMENT})),
    Action.BEGIN_REVIEW: Step(Party.APPRAISER, frozenset({State.SELF_ASSESSMENT})),
    Action.SCORE: Step(Party.APPRAISER, frozenset({State.MANAGER_REVIEW})),
    Action.SHARE: Step(Party.APPRAISER, frozenset({State.MANAGER_REVIEW})),
    Action.WITHDRAW: Step(Party.APPRAISER, frozenset({State.AWAITING_SIGN_OFF})),
    Action.SIGN_OFF: Step(Party.OWNER, frozenset({State.AWAITING_SIGN_OFF})),
    Action.COUNTERSIGN: Step(Party.APPRAISER, frozenset({State.AWAITING_COUNTERSIGN})),
    Action.TAKE_BACK: Step(Party.APPRAISER, frozenset({State.AWAITING_COUNTERSIGN})),
    Action.REFER: Step(Party.APPRAISER, frozenset({State.AWAITING_COUNTERSIGN})),
    Action.DECIDE_REFERRAL: Step(Party.REFEREE, frozenset({State.REFERRED})),
    Action.REOPEN: Step(Party.HR, frozenset({State.COMPLETED})),
    Action.REASSIGN: Step(Party.HR, frozenset(State) - {State.COMPLETED}),
}

# What a service says to someone who is not the party of a step.
REFUSALS = {
    Party.OWNER: "Only the person appraised can do this.",
    Party.APPRAISER: "Only the appraiser can do this.",
    Party.HR: "Only HR admins can do this.",
    Party.REFEREE: "Only the manager the disagreement was referred to, or HR, can decide on it.",
}
PDF_REFUSAL = "Your appraisal can be downloaded once your manager has shared it with you."


@dataclass(frozen=True)
class Permissions:
    """What one viewer may see of one appraisal and do to it now."""

    viewer_id: int | None
    appraisal_id: int
    state: str
    is_owner: bool
    is_appraiser: bool
    is_above: bool  # above the person in the line (and neither the owner nor the appraiser)
    is_hr: bool  # an HR admin with rights over the person
    is_referee: bool  # decides a referred disagreement: the manager it was referred to, or an HR admin (is_hr)
    may_see_history: bool  # the person's competency history (the owner's own, or /people/<id>/history/)
    hr_conflict: str = ""  # for an HR admin without rights over the person: why (another HR admin must act)

    @property
    def may_see(self) -> bool:
        return self.is_owner or self.is_appraiser or self.is_above or self.is_hr or self.is_referee

    @property
    def may_see_scores(self) -> bool:
        """The manager's ratings, levels, comments and plans: the owner sees them once shared."""
        return (
            self.is_hr
            or self.is_appraiser
            or self.is_above
            or self.is_referee
            or (self.is_owner and self.state in Appraisal.SHARED_STATES)
        )

    @property
    def may_see_competencies(self) -> bool:
        """The competencies with their ratings: the manager's, or the owner's own self-assessment."""
        return (self.may_see_scores and self.state != State.SELF_ASSESSMENT) or self.is_owner

    def is_party_to(self, action: Action) -> bool:
        """Whether the viewer is the one who takes this step, whatever the state."""
        if action == Action.DOWNLOAD_PDF:
            return self.may_see_scores
        party = STEPS[action].party
        return {
            Party.OWNER: self.is_owner,
            Party.APPRAISER: self.is_appraiser,
            Party.HR: self.is_hr,
            Party.REFEREE: self.is_referee,
        }[party]

    def may(self, action: Action) -> bool:
        """Whether the viewer may take this step now: they are its party, and the state allows it."""
        return self.is_party_to(action) and (action == Action.DOWNLOAD_PDF or STEPS[action].is_open_in(self.state))

    @property
    def allowed(self) -> frozenset[Action]:
        return frozenset(action for action in Action if self.may(action))

    def require_party(self, action: Action, *, refusal: str | None = None) -> None:
        """NotAllowed (403) unless the viewer is the party of this step; `refusal` is what to say
        (an HR admin on their own record is told that another HR admin must do it)."""
        if self.is_party_to(action):
            return
        if action == Action.DOWNLOAD_PDF:
            raise NotAllowed(refusal or PDF_REFUSAL)
        party = STEPS[action].party
        if party == Party.HR and self.hr_conflict:
            raise NotAllowed(self.hr_conflict)
        raise NotAllowed(refusal or REFUSALS[party])

    # For templates, which cannot pass an argument.
    @property
    def may_self_assess(self) -> bool:
        return self.may(Action.SELF_ASSESS)

    @property
    def may_submit_self_assessment(self) -> bool:
        return self.may(Action.SUBMIT_SELF_ASSESSMENT)

    @property
    def may_begin_review(self) -> bool:
        return self.may(Action.BEGIN_REVIEW)

    @property
    def may_score(self) -> bool:
        return self.may(Action.SCORE)

    @property
    def may_share(self) -> bool:
        return self.may(Action.SHARE)

    @property
    def may_withdraw(self) -> bool:
        return self.may(Action.WITHDRAW)

    @property
    def may_sign_off(self) -> bool:
        return self.may(Action.SIGN_OFF)

    @property
    def may_countersign(self) -> bool:
        return self.may(Action.COUNTERSIGN)

    @property
    def may_take_back(self) -> bool:
        return self.may(Action.TAKE_BACK)

    @property
    def may_refer(self) -> bool:
        return self.may(Action.REFER)

    @property
    def may_decide_referral(self) -> bool:
        return self.may(Action.DECIDE_REFERRAL)

    @property
    def may_reopen(self) -> bool:
        return self.may(Action.REOPEN)

    @property
    def may_reassign(self) -> bool:
        return self.may(Action.REASSIGN)

    @property
    def may_download_pdf(self) -> bool:
        return self.may(Action.DOWNLOAD_PDF)


def permissions_for(user: Person, appraisal: Appraisal) -> Permissions:
    """What `user` may see of `appraisal` and do to it now.

    Within a request the answers about the user are remembered (`core.requests`); the line above
    the person is read (one query) only for a viewer who is neither the owner nor the appraiser.
    """
    person = staff_member_for(user)
    is_hr = is_hr_admin_over(user, appraisal.staff_member_id)
    is_owner = person is not None and person.pk == appraisal.staff_member_id
    is_appraiser = person is not None and person.pk == appraisal.appraiser_id
    is_above = (
        person is not None
        and not is_owner
        and not is_appraiser
        and person.pk in managers_above(appraisal.staff_member_id)
    )
    # The appraiser who is the person's line manager sees their history; another appraiser does not.
    may_see_history = (
        is_owner
        or is_hr
        or is_above
        or (is_appraiser and appraisal.staff_member.line_manager_id == appraisal.appraiser_id)
    )
    return Permissions(
        viewer_id=user.pk,
        appraisal_id=appraisal.pk,
        state=appraisal.state,
        is_owner=is_owner,
        is_appraiser=is_appraiser,
        is_above=is_above,
        is_hr=is_hr,
        # The referee is HR, or the manager named, for as long as the record waits on the referral.
        is_referee=is_hr
        or (person is not None and person.pk == appraisal.referred_to_id and appraisal.state == State.REFERRED),
        may_see_history=may_see_history,
        hr_conflict=hr_conflict_message(user, appraisal.staff_member_id) if not is_hr and is_hr_admin(user) else "",
    )


def permissions_of(by: Person, appraisal: Appraisal, *, given: Permissions | None = None) -> Permissions:
    """What `by` may do to `appraisal`: `given` when a view passes what it computed (it must be
    `by`'s, on this appraisal), else computed now, so that a direct call is checked too."""
    if given is None:
        return permissions_for(by, appraisal)
    if given.viewer_id != by.pk or given.appraisal_id != appraisal.pk:
        raise ValueError("These permissions are another viewer's or another appraisal's.")
    return given
