"""Cycles and the appraisal workflow, through the services: who may do what, in which state."""

import datetime

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from appraisal import selectors
from appraisal.models import Appraisal, AppraisalEvent, IndicatorRating, ScoredCompetency
from appraisal.permissions import NotAllowed
from appraisal.rules import WindowLevel
from appraisal.services import cycles, scoring, workflow
from appraisal.services.revisions import StaleRecord
from audit.models import AuditEntry
from staff.models import StaffMember
from tests.appraisals import complete, fresh, make_cycle, open_appraisal, rate, reload
from tests.conftest import make_person

State = Appraisal.State


# --- opening a cycle ------------------------------------------------------------------------------


def test_opening_a_cycle_gives_every_active_person_an_appraisal_with_their_role_version_and_manager(
    hr, manager, staff, other_staff
):
    cycle = make_cycle(hr)
    result = cycles.open_cycle(by=fresh(hr), cycle=cycle)
    appraisal = Appraisal.objects.get(cycle=cycle, staff_member__user=staff)
    assert appraisal.appraiser == manager.staff_member
    assert appraisal.role_version == staff.staff_member.role_profile.current_version
    assert appraisal.state == State.MANAGER_REVIEW
    assert {a.staff_member.user.username for a in result.created} == {"staff", "other_staff"}
    # The window is copied from the role profile version, competency by competency.
    requirements = list(appraisal.role_version.requirements.order_by("position"))
    scored = list(appraisal.competencies.all())
    assert [(s.competency_id, s.entry_level) for s in scored] == [
        (r.competency_id, r.entry_level) for r in requirements
    ]
    assert all(len(s.levels) == 3 for s in scored)
    assert AppraisalEvent.objects.filter(appraisal=appraisal, action="open").count() == 1


def test_people_who_cannot_be_appraised_are_listed_with_the_reason(hr, manager, staff):
    make_person("no_role", role=None, manager=manager)
    make_person("no_manager")
    cycle = make_cycle(hr)
    result = cycles.open_cycle(by=fresh(hr), cycle=cycle)
    reasons = {entry.staff_member.user.username: entry.reason for entry in result.not_appraised}
    assert reasons["no_role"] == "holds no role profile"
    assert reasons["no_manager"] == "has no line manager"
    assert "staff" not in reasons
    assert not Appraisal.objects.filter(
        cycle=cycle, staff_member__user__username__in=["no_role", "no_manager"]
    ).exists()
    # Still listed on the cycle's page until fixed.
    assert {entry.staff_member.user.username for entry in selectors.not_appraised(cycle)} >= {"no_role", "no_manager"}


def test_opening_twice_creates_no_duplicates_and_picks_up_people_fixed_since(hr, manager, staff):
    newcomer = make_person("newcomer")
    cycle = make_cycle(hr)
    first = cycles.open_cycle(by=fresh(hr), cycle=cycle)
    assert "newcomer" in {entry.staff_member.user.username for entry in first.not_appraised}
    count = Appraisal.objects.filter(cycle=cycle).count()
    StaffMember.objects.filter(user=newcomer).update(
        line_manager=manager.staff_member, line_manager_since=datetime.date(2025, 1, 1)
    )
    second = cycles.open_cycle(by=fresh(hr), cycle=cycle)
    assert [a.staff_member.user.username for a in second.created] == ["newcomer"]
    assert Appraisal.objects.filter(cycle=cycle).count() == count + 1
    third = cycles.open_cycle(by=fresh(hr), cycle=cycle)
    assert third.created == []
    assert Appraisal.objects.filter(cycle=cycle).count() == count + 1


def test_leavers_get_no_appraisal(hr, manager, staff):
    StaffMember.objects.filter(user=staff).update(left_on=datetime.date(2020, 1, 1))
    cycle = make_cycle(hr)
    cycles.open_cycle(by=fresh(hr), cycle=cycle)
    assert not Appraisal.objects.filter(cycle=cycle, staff_member__user=staff).exists()


def test_a_cycle_that_asks_for_self_assessment_starts_there_and_emails_each_person(
    hr, manager, staff, django_capture_on_commit_callbacks
):
    staff.email = "sam@example.org"
    staff.save()
    with django_capture_on_commit_callbacks(execute=True):
        appraisal = open_appraisal(hr, staff, self_assessment=True)
    assert appraisal.state == State.SELF_ASSESSMENT
    assert [message.to for message in mail.outbox] == [["sam@example.org"]]  # nobody else has an address
    assert f"/appraisals/{appraisal.pk}/" in mail.outbox[0].body


def test_only_hr_admins_create_and_open_cycles(hr, manager, staff):
    with pytest.raises(NotAllowed):
        cycles.create_cycle(
            by=fresh(manager),
            name="X",
            period_start=datetime.date(2025, 4, 1),
            period_end=datetime.date(2026, 3, 31),
            due_on=datetime.date(2026, 6, 30),
            self_assessment=False,
        )
    cycle = make_cycle(hr)
    with pytest.raises(NotAllowed):
        cycles.open_cycle(by=fresh(manager), cycle=cycle)
    assert not Appraisal.objects.exists()


def test_a_cycle_must_end_after_it_starts(hr):
    with pytest.raises(ValidationError) as error:
        cycles.create_cycle(
            by=fresh(hr),
            name="Backwards",
            period_start=datetime.date(2026, 4, 1),
            period_end=datetime.date(2025, 3, 31),
            due_on=datetime.date(2026, 6, 30),
            self_assessment=False,
        )
    assert "period_end" in error.value.message_dict


# --- reassigning ----------------------------------------------------------------------------------


def test_hr_can_reassign_the_appraiser_and_the_new_one_is_emailed(
    hr, manager, staff, other_manager, django_capture_on_commit_callbacks
):
    other_manager.email = "other@example.org"
    other_manager.save()
    appraisal = open_appraisal(hr, staff)
    mail.outbox.clear()
    with pytest.raises(NotAllowed):
        workflow.reassign_appraiser(
            by=fresh(manager), appraisal=appraisal, appraiser=other_manager.staff_member, reason="Leave"
        )
    with django_capture_on_commit_callbacks(execute=True):
        workflow.reassign_appraiser(
            by=fresh(hr), appraisal=reload(appraisal), appraiser=other_manager.staff_member, reason="Long leave"
        )
    appraisal = reload(appraisal)
    assert appraisal.appraiser == other_manager.staff_member
    assert [message.to for message in mail.outbox] == [["other@example.org"]]
    # The old appraiser may no longer score; the new one may.
    with pytest.raises(NotAllowed):
        rate(appraisal, manager)
    rate(appraisal, other_manager)


def test_reassigning_needs_a_reason_and_not_the_person_themselves(hr, manager, staff):
    appraisal = open_appraisal(hr, staff)
    with pytest.raises(ValidationError) as error:
        workflow.reassign_appraiser(by=fresh(hr), appraisal=appraisal, appraiser=staff.staff_member, reason="")
    assert set(error.value.message_dict) == {"appraiser", "reason"}


# --- transitions: allowed, and refused to the wrong person or in the wrong state --------------------


def _at_state(state, hr, manager, staff):
    """An appraisal brought to `state` the proper way."""
    appraisal = open_appraisal(hr, staff, self_assessment=state == State.SELF_ASSESSMENT)
    if state in (State.SELF_ASSESSMENT, State.MANAGER_REVIEW):
        return reload(appraisal)
    rate(appraisal, manager)
    workflow.share(by=fresh(manager), appraisal=reload(appraisal))
    if state == State.AWAITING_SIGN_OFF:
        return reload(appraisal)
    workflow.sign_off(by=fresh(staff), appraisal=reload(appraisal), agrees=True, comments="")
    if state == State.AWAITING_COUNTERSIGN:
        return reload(appraisal)
    workflow.countersign(by=fresh(manager), appraisal=reload(appraisal))
    return reload(appraisal)


ACTIONS = {
    # action: (the state it starts from, who may do it, the state it ends in, how to call it)
    "submit self-assessment": (
        State.SELF_ASSESSMENT,
        "staff",
        State.MANAGER_REVIEW,
        lambda by, a: workflow.submit_self_assessment(by=by, appraisal=a),
    ),
    "begin review without self-assessment": (
        State.SELF_ASSESSMENT,
        "manager",
        State.MANAGER_REVIEW,
        lambda by, a: workflow.begin_review(by=by, appraisal=a),
    ),
    "share": (State.MANAGER_REVIEW, "manager", State.AWAITING_SIGN_OFF, None),
    "withdraw": (
        State.AWAITING_SIGN_OFF,
        "manager",
        State.MANAGER_REVIEW,
        lambda by, a: workflow.withdraw(by=by, appraisal=a),
    ),
    "sign off": (
        State.AWAITING_SIGN_OFF,
        "staff",
        State.AWAITING_COUNTERSIGN,
        lambda by, a: workflow.sign_off(by=by, appraisal=a, agrees=True, comments="Fair."),
    ),
    "countersign": (
        State.AWAITING_COUNTERSIGN,
        "manager",
        State.COMPLETED,
        lambda by, a: workflow.countersign(by=by, appraisal=a),
    ),
    "reopen": (
        State.COMPLETED,
        "hr",
        State.MANAGER_REVIEW,
        lambda by, a: workflow.reopen(by=by, appraisal=a, reason="Wrong level"),
    ),
}


NOTIFIED = {
    "submit self-assessment": "manager",
    "begin review without self-assessment": "staff",
    "share": "staff",
    "withdraw": "staff",
    "sign off": "manager",
    "countersign": "staff",
    "reopen": "manager",
}


def _share(by, appraisal):
    return workflow.share(by=by, appraisal=appraisal)


@pytest.mark.parametrize("action", ACTIONS)
def test_each_step_is_allowed_to_the_right_person_in_the_right_state_and_recorded(
    action, hr, manager, staff, django_capture_on_commit_callbacks
):
    start, actor, end, call = ACTIONS[action]
    call = call or _share
    users = {"hr": hr, "manager": manager, "staff": staff}
    for user in users.values():
        user.email = f"{user.username}@example.org"
        user.save()
    appraisal = _at_state(start, hr, manager, staff)
    if action == "share":
        rate(appraisal, manager)
        appraisal = reload(appraisal)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        call(fresh(users[actor]), appraisal)
    appraisal = reload(appraisal)
    assert appraisal.state == end
    event = appraisal.events.order_by("-pk").first()
    assert (event.by, event.from_state, event.to_state) == (users[actor], start, end)
    assert AuditEntry.objects.filter(object_type="appraisal", object_id=str(appraisal.pk), actor=users[actor]).exists()
    # Whoever must act next is told (and the person appraised, when their record is taken back or completed).
    assert [message.to for message in mail.outbox] == [[f"{NOTIFIED[action]}@example.org"]]


EVERYONE = ["hr", "manager", "staff", "other_manager", "other_staff"]


@pytest.mark.parametrize(
    ("action", "who"), [(action, who) for action in ACTIONS for who in EVERYONE if who != ACTIONS[action][1]]
)
def test_each_step_is_refused_to_anyone_else(action, who, hr, manager, staff, other_manager, other_staff):
    start, actor, end, call = ACTIONS[action]
    call = call or _share
    users = {"hr": hr, "manager": manager, "staff": staff, "other_manager": other_manager, "other_staff": other_staff}
    appraisal = _at_state(start, hr, manager, staff)
    revision = appraisal.revision
    with pytest.raises(NotAllowed):
        call(fresh(users[who]), appraisal)
    appraisal = reload(appraisal)
    assert (appraisal.state, appraisal.revision) == (start, revision)


@pytest.mark.parametrize("action", ACTIONS)
def test_each_step_is_refused_in_any_other_state(action, hr, manager, staff):
    start, actor, end, call = ACTIONS[action]
    call = call or _share
    users = {"hr": hr, "manager": manager, "staff": staff}
    other_state = State.COMPLETED if start != State.COMPLETED else State.AWAITING_SIGN_OFF
    appraisal = _at_state(other_state, hr, manager, staff)
    with pytest.raises(StaleRecord) as refused:
        call(fresh(users[actor]), appraisal)
    assert "can no longer be done" in refused.value.message
    assert reload(appraisal).state == other_state


def test_a_step_from_a_stale_page_is_refused(hr, manager, staff):
    appraisal = _at_state(State.AWAITING_SIGN_OFF, hr, manager, staff)
    old_revision = appraisal.revision
    workflow.withdraw(by=fresh(manager), appraisal=appraisal, revision=old_revision)
    rate(appraisal, manager)
    workflow.share(by=fresh(manager), appraisal=reload(appraisal))
    # The staff member's page still carries the revision from before the withdrawal.
    with pytest.raises(StaleRecord):
        workflow.sign_off(by=fresh(staff), appraisal=reload(appraisal), agrees=True, comments="", revision=old_revision)
    assert reload(appraisal).state == State.AWAITING_SIGN_OFF


def test_saving_drafts_is_allowed_only_to_the_right_person_in_the_right_state(hr, manager, staff):
    appraisal = open_appraisal(hr, staff, self_assessment=True)
    with pytest.raises(NotAllowed):
        scoring.save_self_assessment(
            by=fresh(manager), appraisal=appraisal, revision=appraisal.revision, ratings={}, comments="x"
        )
    with pytest.raises(StaleRecord):  # the manager's form is not open during self-assessment
        rate(appraisal, manager)
    with pytest.raises(NotAllowed):
        rate(appraisal, staff)
    scoring.save_self_assessment(
        by=fresh(staff),
        appraisal=reload(appraisal),
        revision=reload(appraisal).revision,
        ratings={},
        comments="A good year.",
    )
    workflow.submit_self_assessment(by=fresh(staff), appraisal=reload(appraisal))
    with pytest.raises(StaleRecord):
        scoring.save_self_assessment(
            by=fresh(staff),
            appraisal=reload(appraisal),
            revision=reload(appraisal).revision,
            ratings={},
            comments="Changed my mind",
        )
    assert reload(appraisal).self_assessment_comments == "A good year."


def test_sharing_needs_every_competency_scored_and_the_meeting_date(hr, manager, staff):
    appraisal = open_appraisal(hr, staff)
    with pytest.raises(ValidationError) as refused:
        workflow.share(by=fresh(manager), appraisal=appraisal)
    assert set(refused.value.message_dict) == {"competencies", "meeting_date"}
    assert reload(appraisal).state == State.MANAGER_REVIEW
    rate(appraisal, manager, meeting_date=None)
    with pytest.raises(ValidationError) as refused:
        workflow.share(by=fresh(manager), appraisal=reload(appraisal))
    assert set(refused.value.message_dict) == {"meeting_date"}
    assert reload(appraisal).state == State.MANAGER_REVIEW


def test_disagreement_is_recorded_and_needs_a_comment(hr, manager, staff):
    appraisal = _at_state(State.AWAITING_SIGN_OFF, hr, manager, staff)
    with pytest.raises(ValidationError):
        workflow.sign_off(by=fresh(staff), appraisal=appraisal, agrees=False, comments="  ")
    workflow.sign_off(
        by=fresh(staff), appraisal=reload(appraisal), agrees=False, comments="My Customer Care level is too low."
    )
    appraisal = reload(appraisal)
    assert (appraisal.staff_agrees, appraisal.staff_comments, appraisal.signed_off_by) == (
        False,
        "My Customer Care level is too low.",
        staff,
    )
    assert appraisal.signed_off_at is not None


def test_a_completed_record_is_locked(hr, manager, staff):
    appraisal = _at_state(State.COMPLETED, hr, manager, staff)
    assert appraisal.completed_at and appraisal.countersigned_by == manager
    before = list(
        IndicatorRating.objects.filter(scored_competency__appraisal=appraisal).values_list("rating", flat=True)
    )
    with pytest.raises(StaleRecord):
        rate(appraisal, manager, rating="not_yet")
    with pytest.raises(StaleRecord):
        scoring.save_self_assessment(
            by=fresh(staff), appraisal=appraisal, revision=appraisal.revision, ratings={}, comments="x"
        )
    assert (
        list(IndicatorRating.objects.filter(scored_competency__appraisal=appraisal).values_list("rating", flat=True))
        == before
    )


def test_reopening_needs_a_reason_clears_the_signatures_and_keeps_the_reason(hr, manager, staff):
    appraisal = _at_state(State.COMPLETED, hr, manager, staff)
    with pytest.raises(ValidationError):
        workflow.reopen(by=fresh(hr), appraisal=appraisal, reason=" ")
    assert reload(appraisal).state == State.COMPLETED
    workflow.reopen(by=fresh(hr), appraisal=reload(appraisal), reason="Level entered for the wrong competency")
    appraisal = reload(appraisal)
    assert appraisal.state == State.MANAGER_REVIEW
    assert (appraisal.signed_off_at, appraisal.countersigned_at, appraisal.completed_at, appraisal.staff_agrees) == (
        None,
        None,
        None,
        None,
    )
    event = appraisal.events.get(action="reopen")
    assert (event.by, event.comment) == (hr, "Level entered for the wrong competency")
    # The earlier sign-offs stay in the history.
    assert (
        appraisal.events.filter(action="sign off").exists() and appraisal.events.filter(action="countersign").exists()
    )


# --- saving the review ----------------------------------------------------------------------------


def test_saving_derives_each_level_and_keeps_an_override_beside_it(hr, manager, staff):
    appraisal = open_appraisal(hr, staff)
    scored = list(appraisal.competencies.all())
    first, second = scored[0], scored[1]
    rate(
        appraisal,
        manager,
        per_competency={first.name: lambda number: "consistently" if number == first.entry_level else "partly"},
    )
    appraisal = reload(appraisal)
    scoring.save_review(
        by=fresh(manager),
        appraisal=appraisal,
        revision=appraisal.revision,
        ratings={},
        overrides={second.competency_id: (second.entry_level, "Only seen on one shift pattern")},
        measures={},
        meeting_date=datetime.date(2026, 4, 20),
        objectives="o",
        development_plan="d",
        manager_comments="c",
    )
    first, second = ScoredCompetency.objects.get(pk=first.pk), ScoredCompetency.objects.get(pk=second.pk)
    assert first.derived_level == first.entry_level and first.achieved_level == first.entry_level
    assert second.derived_level == second.exceptional_level  # everything consistently demonstrated
    assert (second.override_level, second.override_reason, second.achieved_level) == (
        second.entry_level,
        "Only seen on one shift pattern",
        second.entry_level,
    )


def test_an_override_needs_a_reason_and_nothing_is_saved_without_one(hr, manager, staff):
    appraisal = open_appraisal(hr, staff)
    competency = appraisal.competencies.first()
    indicator_id = competency.levels[0]["indicators"][0]
    with pytest.raises(ValidationError) as refused:
        scoring.save_review(
            by=fresh(manager),
            appraisal=appraisal,
            revision=appraisal.revision,
            ratings={indicator_id: ("partly", "Some evidence")},
            overrides={competency.competency_id: (competency.exceptional_level, "")},
            measures={},
            meeting_date=datetime.date(2026, 4, 20),
            objectives="Typed objectives",
            development_plan="",
            manager_comments="",
        )
    assert f"reason-{competency.competency_id}" in refused.value.message_dict
    appraisal = reload(appraisal)
    assert appraisal.objectives == "" and appraisal.revision == 1
    assert not IndicatorRating.objects.filter(scored_competency__appraisal=appraisal).exists()


def test_indicators_outside_the_appraisal_are_refused(hr, manager, staff):
    appraisal = open_appraisal(hr, staff)
    with pytest.raises(ValidationError):
        scoring.save_review(
            by=fresh(manager),
            appraisal=appraisal,
            revision=appraisal.revision,
            ratings={999999: ("partly", "")},
            overrides={},
            measures={},
            meeting_date=None,
            objectives="",
            development_plan="",
            manager_comments="",
        )


def test_every_change_of_score_is_audited_with_before_and_after(hr, manager, staff):
    appraisal = open_appraisal(hr, staff)
    rate(appraisal, manager, rating="partly")
    rate(appraisal, manager, rating="consistently")
    entry = (
        AuditEntry.objects.filter(object_type="appraisal", object_id=str(appraisal.pk), action="save review")
        .order_by("-pk")
        .first()
    )
    rating_changes = [value for key, value in entry.changes.items() if key.endswith(": rating")]
    assert rating_changes and all(value == ["Partly", "Consistently demonstrated"] for value in rating_changes)
    assert entry.person_id == staff.staff_member.pk


def test_two_saves_from_the_same_revision_do_not_overwrite_each_other(hr, manager, staff):
    appraisal = open_appraisal(hr, staff)
    revision = appraisal.revision
    kwargs = dict(ratings={}, overrides={}, measures={}, meeting_date=None, development_plan="", manager_comments="")
    scoring.save_review(
        by=fresh(manager), appraisal=reload(appraisal), revision=revision, objectives="First tab", **kwargs
    )
    with pytest.raises(StaleRecord) as refused:
        scoring.save_review(
            by=fresh(manager), appraisal=reload(appraisal), revision=revision, objectives="Second tab", **kwargs
        )
    assert "after you opened it" in refused.value.message
    assert reload(appraisal).objectives == "First tab"


def test_the_person_s_completed_history_feeds_the_sustained_level_rule(hr, manager):
    """The Senior Service Coordinator's windows on Organisation and Sector Awareness and on Policy,
    Procedure and Practice are 3–5, and level 5 of both is "level 4 maintained for at least 1 year"."""
    coordinator = make_person("coordinator", role="senior-service-coordinator-afeo", manager=manager)
    rule_names = {"Organisation and Sector Awareness", "Policy, Procedure and Practice"}

    first = open_appraisal(hr, coordinator, year=2025)
    complete(first, manager=manager, staff=coordinator)
    first_levels = {
        s.name: s.derived_level for s in ScoredCompetency.objects.filter(appraisal=first, name__in=rule_names)
    }
    assert first_levels == {name: 4 for name in rule_names}  # first year: level 4, not yet 5

    second = open_appraisal(hr, coordinator, year=2026)
    rate(second, manager)
    second_levels = {
        s.name: s.derived_level for s in ScoredCompetency.objects.filter(appraisal=second, name__in=rule_names)
    }
    assert second_levels == {name: 5 for name in rule_names}  # held from 31 March 2025 to 31 March 2026


def test_a_drop_in_the_year_before_means_no_sustained_level(hr, manager):
    coordinator = make_person("coordinator", role="senior-service-coordinator-afeo", manager=manager)
    first = open_appraisal(hr, coordinator, year=2025)
    complete(
        first,
        manager=manager,
        staff=coordinator,
        per_competency={"Policy, Procedure and Practice": lambda number: "consistently" if number == 3 else "partly"},
    )
    second = open_appraisal(hr, coordinator, year=2026)
    rate(second, manager)
    levels = {s.name: s.derived_level for s in ScoredCompetency.objects.filter(appraisal=second)}
    assert levels["Policy, Procedure and Practice"] == 4
    assert levels["Organisation and Sector Awareness"] == 5


def test_the_earlier_records_are_read_only_for_a_window_with_a_sustained_level_rule(hr, manager, staff, monkeypatch):
    """Deriving levels reads the person's completed records only where a rule needs them (two queries
    fewer on every save of a role without one); with a rule, they still decide the level (above)."""
    reads = []
    real = scoring.earlier_records
    monkeypatch.setattr(scoring, "earlier_records", lambda appraisal: reads.append(appraisal.pk) or real(appraisal))
    plain = open_appraisal(hr, staff, year=2025)  # a support worker: no window of theirs reaches a rule
    assert not any(
        WindowLevel.from_snapshot(level).is_rule
        for scored in ScoredCompetency.objects.filter(appraisal=plain)
        for level in scored.levels
    )
    rate(plain, manager)
    assert reads == [] and ScoredCompetency.objects.filter(appraisal=plain, derived_level__isnull=False).exists()
    coordinator = make_person("coordinator", role="senior-service-coordinator-afeo", manager=manager)
    with_rule = open_appraisal(hr, coordinator, year=2026)
    rate(with_rule, manager)
    assert reads == [with_rule.pk]
