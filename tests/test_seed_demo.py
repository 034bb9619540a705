import datetime
import io
import statistics
from collections import Counter, defaultdict

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.db import transaction
from django.db.models import F
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from appraisal.models import Appraisal, AppraisalCycle, AppraisalEvent, IndicatorRating, ScoredCompetency
from audit.models import AuditEntry
from core.access import is_hr_admin
from demo.dates import REFERENCE_DAY
from demo.management.commands.seed_demo import DEMO_HR_SECRET
from staff import second_factor
from staff.access import is_line_manager
from staff.models import Service, StaffMember

pytestmark = pytest.mark.django_db

State = Appraisal.State
PAST = {2023: "Annual appraisal 2023", 2024: "Annual appraisal 2024", 2025: "Annual appraisal 2025"}
CURRENT = "Annual appraisal 2026"


def seed():
    """The demo as written: built for its reference day, its dates are the ones these tests name."""
    call_command("seed_demo", today=REFERENCE_DAY, stdout=io.StringIO())


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """The demo seeded once for this module (a few seconds), rolled back when the module ends."""
    with django_db_blocker.unblock(), transaction.atomic():
        seed()
        yield
        transaction.set_rollback(True)


def counts() -> dict:
    models = (
        StaffMember,
        Service,
        AppraisalCycle,
        Appraisal,
        ScoredCompetency,
        IndicatorRating,
        AppraisalEvent,
        AuditEntry,
    )
    return {model.__name__: model.objects.count() for model in models}


def appraisals_of(username):
    return Appraisal.objects.filter(staff_member__user__username=username).select_related(
        "cycle", "role_version__role_profile"
    )


def test_seed_demo_creates_a_small_organisation_and_is_idempotent(seeded):
    before = counts()
    seed()
    assert counts() == before
    assert 20 <= StaffMember.objects.active().filter(role_profile__isnull=False).count() <= 25
    assert set(StaffMember.objects.values_list("role_profile__slug", flat=True)) >= {
        "support-worker-supported-housing",
        "housing-worker",
        "night-senior-support-worker",
        "senior-service-coordinator-afeo",
        "recovery-coach-somerset",
    }


def test_the_demo_logins_work_with_password_demo(seeded):
    hr, manager, staff = (authenticate(username=name, password="demo") for name in ("hr", "manager", "staff"))
    assert hr and manager and staff
    assert is_hr_admin(hr) and not is_hr_admin(manager)
    assert is_line_manager(manager) and not is_line_manager(staff)
    assert staff.staff_member.line_manager.user == manager


def test_the_demo_hr_has_a_second_factor_whose_secret_is_printed(seeded):
    out = io.StringIO()
    call_command("seed_demo", stdout=out)  # again: changes nothing, prints the secret again
    assert DEMO_HR_SECRET in out.getvalue()
    device = TOTPDevice.objects.get(user__username="hr", confirmed=True)
    totp = TOTP(bytes.fromhex(second_factor.key_from_secret(out.getvalue().split("time-based key ")[1][:39])))
    assert totp.token() == TOTP(device.bin_key).token()  # the printed key makes the device's codes
    assert not TOTPDevice.objects.exclude(user__username="hr").exists()


def test_the_demo_line_management_tree_has_more_than_one_level(seeded):
    deep = StaffMember.objects.filter(line_manager__line_manager__line_manager__isnull=False)
    assert deep.exists()


def test_three_past_cycles_are_complete_and_dated_inside_the_cycle(seeded):
    for year, name in PAST.items():
        cycle = AppraisalCycle.objects.get(name=name)
        assert (cycle.period_start, cycle.period_end, cycle.due_on) == (
            datetime.date(year - 1, 4, 1),
            datetime.date(year, 3, 31),
            datetime.date(year, 6, 30),
        )
        assert cycle.is_open
        appraisals = list(cycle.appraisals.all())
        assert len(appraisals) >= 12
        assert {appraisal.state for appraisal in appraisals} == {State.COMPLETED}
        for appraisal in appraisals:
            assert cycle.period_end < appraisal.meeting_date < appraisal.completed_at.date() <= cycle.due_on
            assert (
                appraisal.countersigned_at == appraisal.completed_at
                and appraisal.signed_off_at < appraisal.completed_at
            )
            assert [event.action for event in appraisal.events.all()][-1].startswith("countersign")
            assert all(event.at.year == year for event in appraisal.events.all())
        assert not ScoredCompetency.objects.filter(appraisal__cycle=cycle, derived_level__isnull=True).exists()


def test_only_people_employed_at_the_time_are_appraised_in_a_past_cycle(seeded):
    assert not appraisals_of("zara").exclude(cycle__name=CURRENT).exists()  # started September 2025
    assert set(appraisals_of("leah").values_list("cycle__name", flat=True)) == {PAST[2024], PAST[2025], CURRENT}
    assert set(appraisals_of("amy").values_list("cycle__name", flat=True)) == set(PAST.values())  # left August 2025
    assert not appraisals_of("head").exists() and not appraisals_of("hr").exists()  # no role profile


def test_the_current_cycle_has_an_appraisal_in_every_state(seeded):
    cycle = AppraisalCycle.objects.get(name=CURRENT)
    assert (cycle.period_start, cycle.period_end, cycle.due_on) == (
        datetime.date(2025, 4, 1),
        datetime.date(2026, 3, 31),
        datetime.date(2026, 6, 30),
    )
    assert cycle.is_open and cycle.self_assessment
    states = Counter(cycle.appraisals.values_list("state", flat=True))
    assert set(states) == set(State)
    assert sum(states.values()) == StaffMember.objects.active().filter(role_profile__isnull=False).count()
    # A half-saved review: some indicators rated by the manager, some not yet.
    drafts = [
        appraisal
        for appraisal in cycle.appraisals.filter(state=State.MANAGER_REVIEW)
        if {row.rating != "" for row in IndicatorRating.objects.filter(scored_competency__appraisal=appraisal)}
        == {True, False}
    ]
    assert drafts


def test_jo_is_appraised_as_a_support_worker_before_the_promotion_and_as_a_coordinator_after(seeded):
    roles = {appraisal.cycle.name: appraisal.role_version.role_profile.slug for appraisal in appraisals_of("jo")}
    assert roles == {
        PAST[2023]: "support-worker-supported-housing",
        PAST[2024]: "support-worker-supported-housing",
        PAST[2025]: "support-worker-supported-housing",
        CURRENT: "senior-service-coordinator-afeo",
    }
    appraisers = {appraisal.cycle.name: appraisal.appraiser.user.username for appraisal in appraisals_of("jo")}
    assert appraisers == {PAST[2023]: "manager", PAST[2024]: "manager", PAST[2025]: "manager", CURRENT: "head"}


def derived(username, competency):
    return {
        row.appraisal.cycle.period_end.year: row.derived_level
        for row in ScoredCompetency.objects.filter(
            appraisal__staff_member__user__username=username, name=competency
        ).select_related("appraisal__cycle")
    }


def test_level_5_is_reached_by_the_sustained_level_rule(seeded):
    by_rule = [
        row
        for row in ScoredCompetency.objects.filter(derived_level=5)
        if any(
            level["number"] == 5 and level["sustained_level"] == 4 and not level["indicators"] for level in row.levels
        )
    ]
    assert by_rule
    # Morgan: level 4 in 2023, held a year, so 5 in 2024 (and after).
    assert derived("manager", "Organisation and Sector Awareness") == {2023: 4, 2024: 5, 2025: 5, 2026: 5}
    # Jo: level 4 as a Support Worker in 2025 (window 2–4), level 4 again as a coordinator in 2026: 5.
    assert derived("jo", "Organisation and Sector Awareness") == {2023: 3, 2024: 3, 2025: 4, 2026: 5}
    assert derived("ellie", "Policy, Procedure and Practice") == {2023: 3, 2024: 4, 2025: 5, 2026: 5}


def test_scores_are_varied_and_plausible(seeded):
    ratings = Counter(
        IndicatorRating.objects.filter(scored_competency__appraisal__state=State.COMPLETED)
        .order_by()  # counted: not sorted by the model's ordering (joins whose plan varies on PostgreSQL)
        .values_list("rating", flat=True)
    )
    assert ratings["consistently"] > ratings["partly"] > 0 and ratings["not_yet"] > 0
    assert IndicatorRating.objects.exclude(evidence="").count() > 50
    scored = [
        row
        for row in ScoredCompetency.objects.filter(appraisal__state=State.COMPLETED).order_by()
        if row.achieved_level is not None
    ]
    relative = Counter(row.achieved_level - row.desired_level for row in scored)
    assert relative[0] > len(scored) / 2  # mostly at Desired
    assert relative[-1] and relative[1] and relative[-2]  # some at Entry, Exceptional and below entry
    override = ScoredCompetency.objects.exclude(override_level=None).first()
    assert override and override.override_reason and override.override_level != override.derived_level
    disagreement = Appraisal.objects.filter(staff_agrees=False, state=State.COMPLETED).first()
    assert disagreement and disagreement.staff_comments
    assert disagreement.events.filter(action="sign off, disagreeing").exists()
    completed = Appraisal.objects.completed()
    assert not completed.filter(objectives="").exists() and not completed.filter(manager_comments="").exists()


def test_staff_has_completed_history_and_something_to_sign(seeded):
    states = {appraisal.cycle.name: appraisal.state for appraisal in appraisals_of("staff")}
    assert states == {
        PAST[2023]: State.COMPLETED,
        PAST[2024]: State.COMPLETED,
        PAST[2025]: State.COMPLETED,
        CURRENT: State.AWAITING_SIGN_OFF,
    }


def test_the_manager_appraises_reports_in_several_states(seeded):
    states = set(
        Appraisal.objects.filter(cycle__name=CURRENT, appraiser__user__username="manager").values_list(
            "state", flat=True
        )
    )
    assert len(states) >= 3


@pytest.mark.parametrize(
    "username, url, bound, shown",
    [
        (
            "jo",
            "/my/history/",
            16,
            ["Role change May 2025", "by the sustained-level rule", "Senior Service Coordinator"],
        ),
        ("head", "/team/?scope=line", 14, ["reports to Morgan Ellis", "Self-assessment", "Below entry"]),
        ("manager", "/team/", 14, ["<strong>You</strong>", "Awaiting countersignature", "Exceptional"]),
        ("hr", "/reports/?cycle=", 18, ["Cycle progress", "Standing against the role", "Staff below entry"]),
    ],
)
def test_the_demo_s_history_team_and_report_pages_show_its_story_in_bounded_queries(
    seeded, client, django_assert_max_num_queries, username, url, bound, shown
):
    from django.contrib.auth import get_user_model

    if url.endswith("?cycle="):
        url += str(AppraisalCycle.objects.get(name=PAST[2025]).pk)
    client.force_login(get_user_model().objects.get(username=username))
    with django_assert_max_num_queries(bound):
        page = client.get(url)
    assert page.status_code == 200
    for text in shown:
        assert text in page.content.decode(), text


def test_the_latest_cycles_outcomes_tell_a_story(seeded):
    """Over the completed records of the latest cycles (the current one and the two before; Releasing Potential
    belongs to one role held by one person): every standing on several competencies, no competency with one
    standing for everyone, and the development needs gathered in two competencies."""
    from appraisal.rules import Standing, final_level, standing

    latest = AppraisalCycle.objects.order_by("-period_end")[:3]
    rows = ScoredCompetency.objects.filter(appraisal__cycle__in=latest, appraisal__state=State.COMPLETED)
    standings = defaultdict(Counter)  # {competency: {standing: records}}
    for row in rows:
        standings[row.name][standing(final_level(row.override_level, row.derived_level), row.entry_level)] += 1
    for kind in (Standing.BELOW_ENTRY, Standing.ENTRY, Standing.DESIRED, Standing.EXCEPTIONAL):
        assert sum(1 for counts in standings.values() if counts[kind]) >= 3, kind
    assert all(len(counts) >= 2 for counts in standings.values()), standings
    # Development needs (below Desired) gather in two competencies: theirs are the highest shares of records.
    share = {
        name: (counts[Standing.BELOW_ENTRY] + counts[Standing.ENTRY]) / sum(counts.values())
        for name, counts in standings.items()
    }
    highest = sorted(share, key=share.__getitem__, reverse=True)
    assert set(highest[:2]) == {"Working with Change", "Policy, Procedure and Practice"}, share
    assert min(share[name] for name in highest[:2]) >= 1.5 * statistics.median(share.values()), share


def test_the_night_team_improved_over_the_years(seeded):
    """The mean level against Desired of Daniel's team, cycle by cycle, rises."""
    means = []
    for cycle in AppraisalCycle.objects.order_by("period_end")[:3]:
        rows = ScoredCompetency.objects.filter(
            appraisal__cycle=cycle, appraisal__staff_member__service__name="Night Support, Bristol"
        ).exclude(derived_level=None)
        means.append(sum(row.derived_level - row.desired_level for row in rows) / len(rows))
    assert means == sorted(means) and means[-1] - means[0] >= 0.4, means


def test_the_report_of_the_current_cycle_lists_people_below_entry(seeded, client):
    from django.contrib.auth import get_user_model

    client.force_login(get_user_model().objects.get(username="hr"))
    current = AppraisalCycle.objects.get(name=CURRENT)
    page = client.get(f"/reports/?cycle={current.pk}").content.decode()
    assert "Staff below entry" in page
    below = ScoredCompetency.objects.filter(appraisal__cycle=current, derived_level__lt=F("entry_level"))
    assert below.exists()
    assert below.first().appraisal.staff_member.user.get_full_name() in page
