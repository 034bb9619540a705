"""What each viewer may do to an appraisal in each state (`appraisal.permissions`): the whole table,
actors × states, each cell the exact set of actions allowed. The pages show a step only when it is
allowed, and the services refuse it to anyone who is not its party (tests/test_permissions.py)."""

import pytest
from django.http import Http404

from appraisal.access import get_appraisal_with_permissions
from appraisal.models import Appraisal
from appraisal.permissions import Action, NotAllowed, permissions_for
from appraisal.services import workflow
from core.access import make_hr_admin
from staff.models import StaffMember
from tests.appraisals import fresh, open_appraisal, rate, reload
from tests.conftest import make_person

State = Appraisal.State
A = Action
PDF = {A.DOWNLOAD_PDF}

# Who the viewer is: the person appraised, their appraiser (their line manager), the appraiser's own
# manager (above the person), an HR admin, the person appraised made an HR admin, and another member
# of staff outside the line (who does not see the record at all).
ACTORS = ("owner", "appraiser", "above", "hr", "hr_owner", "other")

TABLE = {
    State.SELF_ASSESSMENT: {
        "owner": {A.SELF_ASSESS, A.SUBMIT_SELF_ASSESSMENT},
        "appraiser": {A.BEGIN_REVIEW, *PDF},
        "above": PDF,
        "hr": {A.REASSIGN, *PDF},
        "hr_owner": {A.SELF_ASSESS, A.SUBMIT_SELF_ASSESSMENT},
        "other": set(),
    },
    State.MANAGER_REVIEW: {
        "owner": set(),
        "appraiser": {A.SCORE, A.SHARE, *PDF},
        "above": PDF,
        "hr": {A.REASSIGN, *PDF},
        "hr_owner": set(),
        "other": set(),
    },
    State.AWAITING_SIGN_OFF: {
        "owner": {A.SIGN_OFF, *PDF},
        "appraiser": {A.WITHDRAW, *PDF},
        "above": PDF,
        "hr": {A.REASSIGN, *PDF},
        "hr_owner": {A.SIGN_OFF, *PDF},
        "other": set(),
    },
    State.AWAITING_COUNTERSIGN: {
        "owner": PDF,
        "appraiser": {A.COUNTERSIGN, A.TAKE_BACK, A.REFER, *PDF},  # refer: the service asks for a disagreement
        "above": PDF,
        "hr": {A.REASSIGN, *PDF},
        "hr_owner": PDF,
        "other": set(),
    },
    # Referred to the line manager's manager ("above"), who decides; so may HR.
    State.REFERRED: {
        "owner": PDF,
        "appraiser": PDF,
        "above": {A.DECIDE_REFERRAL, *PDF},
        "hr": {A.REASSIGN, A.DECIDE_REFERRAL, *PDF},
        "hr_owner": PDF,
        "other": set(),
    },
    State.COMPLETED: {
        "owner": PDF,
        "appraiser": PDF,
        "above": PDF,
        "hr": {A.REOPEN, *PDF},
        "hr_owner": PDF,
        "other": set(),
    },
}


@pytest.fixture
def people(hr, manager, staff, other_staff):
    head = make_person("head", role="senior-service-coordinator-afeo")
    StaffMember.objects.filter(user=manager).update(line_manager=head.staff_member)
    return {"owner": staff, "appraiser": manager, "above": head, "hr": hr, "other": other_staff}


def appraisal_in(state, people) -> Appraisal:
    """The owner's appraisal, taken through the workflow to `state`."""
    hr, staff, manager = people["hr"], people["owner"], people["appraiser"]
    appraisal = open_appraisal(hr, staff, self_assessment=True)
    if state == State.SELF_ASSESSMENT:
        return reload(appraisal)
    appraisal = workflow.begin_review(by=fresh(manager), appraisal=reload(appraisal))
    if state == State.MANAGER_REVIEW:
        return reload(appraisal)
    rate(appraisal, manager)
    workflow.share(by=fresh(manager), appraisal=reload(appraisal))
    if state == State.AWAITING_SIGN_OFF:
        return reload(appraisal)
    if state == State.REFERRED:
        workflow.sign_off(by=fresh(staff), appraisal=reload(appraisal), agrees=False, comments="No.")
        workflow.refer(by=fresh(manager), appraisal=reload(appraisal), to="manager", note="Please decide.")
        return reload(appraisal)
    workflow.sign_off(by=fresh(staff), appraisal=reload(appraisal), agrees=True, comments="")
    if state == State.AWAITING_COUNTERSIGN:
        return reload(appraisal)
    workflow.countersign(by=fresh(manager), appraisal=reload(appraisal))
    return reload(appraisal)


def allowed_for(actor, appraisal, people) -> set[Action]:
    if actor == "hr_owner":
        make_hr_admin(people["owner"])
        actor = "owner"
    return set(permissions_for(fresh(people[actor]), appraisal).allowed)


@pytest.mark.django_db
@pytest.mark.parametrize("state", list(State))
def test_each_viewer_may_do_exactly_what_the_table_says_in_each_state(state, people):
    appraisal = appraisal_in(state, people)
    assert appraisal.state == state
    # hr_owner last: it makes the owner an HR admin.
    found = {actor: allowed_for(actor, appraisal, people) for actor in ACTORS}
    assert found == TABLE[state]


@pytest.mark.django_db
@pytest.mark.parametrize("state", list(State))
def test_what_each_viewer_sees_of_the_record(state, people):
    appraisal = appraisal_in(state, people)
    shared = state in Appraisal.SHARED_STATES
    for actor, sees_scores in (("owner", shared), ("appraiser", True), ("above", True), ("hr", True)):
        permissions = permissions_for(fresh(people[actor]), appraisal)
        assert permissions.may_see and permissions.may_see_scores == sees_scores, actor
        assert permissions.may_see_competencies == (actor == "owner" or state != State.SELF_ASSESSMENT), actor
        assert get_appraisal_with_permissions(fresh(people[actor]), appraisal.pk)[1] == permissions, actor
    assert not permissions_for(fresh(people["other"]), appraisal).may_see
    with pytest.raises(Http404):
        get_appraisal_with_permissions(fresh(people["other"]), appraisal.pk)
    make_hr_admin(people["owner"])
    as_owner = permissions_for(fresh(people["owner"]), appraisal)
    assert (as_owner.is_hr, as_owner.may_see_scores) == (False, shared)
    assert "another HR admin" in as_owner.hr_conflict


@pytest.mark.django_db
def test_a_step_is_refused_to_anyone_but_its_party_whatever_the_state(people):
    appraisal = appraisal_in(State.MANAGER_REVIEW, people)
    owner = permissions_for(fresh(people["owner"]), appraisal)
    with pytest.raises(NotAllowed, match="Only the appraiser can do this."):
        owner.require_party(Action.SHARE)
    with pytest.raises(NotAllowed, match="Only HR admins can do this."):
        owner.require_party(Action.REOPEN)
    with pytest.raises(NotAllowed, match="once your manager has shared it"):
        owner.require_party(Action.DOWNLOAD_PDF)
    appraiser = permissions_for(fresh(people["appraiser"]), appraisal)
    appraiser.require_party(Action.COUNTERSIGN)  # the appraiser's step, though not in this state
    assert not appraiser.may(Action.COUNTERSIGN)
    with pytest.raises(NotAllowed, match="Only the person appraised can do this."):
        appraiser.require_party(Action.SIGN_OFF)


@pytest.mark.django_db
def test_a_service_does_not_take_permissions_computed_for_someone_else(people):
    appraisal = appraisal_in(State.MANAGER_REVIEW, people)
    the_appraisers = permissions_for(fresh(people["appraiser"]), appraisal)
    with pytest.raises(ValueError):
        workflow.share(by=fresh(people["owner"]), appraisal=appraisal, permissions=the_appraisers)
    assert reload(appraisal).state == State.MANAGER_REVIEW
