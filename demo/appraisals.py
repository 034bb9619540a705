"""Demo appraisal history for `seed_demo`: three completed annual cycles and the current one in progress.

The years below (2023 to 2026) are the years the demo is written for: built on another day, every
date moves with it (demo.dates), and the cycles are named after their moved period ends.

Past cycles (2023, 2024, 2025) are opened here, not with `cycles.open_cycle`, because each
appraisal must carry the role profile the person held at the cycle's period end (from their role
history) and the line manager they had then; the windows are snapshotted with the same helpers
`open_cycle` uses. Every appraisal is then walked through the real services (self-assessment,
review, share, sign-off, countersignature), so derived levels, events and the audit trail are the
application's own; afterwards the timestamps are moved back to dates inside each cycle.

The current cycle (as written, "Annual appraisal 2026", period 1 April 2025 to 31 March 2026, due
30 June 2026) is opened with `cycles.open_cycle` and its appraisals are left in every state of the
workflow (see CURRENT_STATES).

Scores are pseudo-random but deterministic: a person's stable strengths come from
`random.Random(username)`, and each year's draws from `random.Random(username + year)`. The levels
are never written directly: the demo chooses indicator ratings, and the services derive the levels
with the application's rules. What the ratings aim at tells a story (see `_targets`): most people
at Desired, a spread from below Entry to Exceptional, development needs gathered in Working with
Change and in Policy, Procedure and Practice, and the night team improving year on year.
"""

import datetime
import random
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.utils import timezone

from appraisal.models import Appraisal, AppraisalCycle, AppraisalEvent, ScoredCompetency
from appraisal.selectors import Candidate, current_versions
from appraisal.services import cycles, scoring, workflow
from audit import trail
from audit.models import AuditEntry
from competencies.models import Competency
from demo.dates import DemoCalendar
from roles.models import PerformanceMeasure
from staff.models import LineManagerAssignment, RoleAssignment, StaffMember

State = Appraisal.State
CONSISTENTLY, PARTLY, NOT_YET = "consistently", "partly", "not_yet"

PAST_YEARS = (2023, 2024, 2025)
CURRENT_YEAR = 2026
# Self-assessment was introduced with the 2024 round.
SELF_ASSESSMENT_FROM = 2024

# Where each person's appraisal is left in the current cycle ("draft": the manager has saved part
# of the review; "partial": the person has saved part of their self-assessment). Anyone active and
# not listed ends completed.
CURRENT_STATES = {
    # Morgan Ellis (manager) appraises these:
    "staff": (State.AWAITING_SIGN_OFF, ""),
    "aisha": (State.COMPLETED, ""),
    "tom": (State.AWAITING_COUNTERSIGN, ""),
    "leah": (State.MANAGER_REVIEW, "draft"),
    "owen": (State.MANAGER_REVIEW, ""),
    "daniel": (State.SELF_ASSESSMENT, "partial"),
    "zara": (State.SELF_ASSESSMENT, ""),
    # Priya Shah (head) appraises these:
    "manager": (State.AWAITING_SIGN_OFF, ""),
    "jo": (State.COMPLETED, ""),
    # Daniel Reed:
    "kemi": (State.COMPLETED, ""),
    "rhys": (State.MANAGER_REVIEW, "draft"),
    # Grace Okafor:
    "ben": (State.AWAITING_SIGN_OFF, ""),
    "nadia": (State.COMPLETED, ""),
    "lucy": (State.COMPLETED, ""),
    "marek": (State.SELF_ASSESSMENT, ""),
    "femi": (State.MANAGER_REVIEW, ""),
    # Chris Walker:
    "ellie": (State.COMPLETED, ""),
    "hamza": (State.REFERRED, ""),
    "rosie": (State.AWAITING_SIGN_OFF, ""),
    "sean": (State.SELF_ASSESSMENT, ""),
    "holly": (State.COMPLETED, ""),
    # New starters without a password yet (seed_demo.NEW_STARTERS): not emailed, listed for HR to invite.
    "noah": (State.SELF_ASSESSMENT, ""),
    "ines": (State.SELF_ASSESSMENT, ""),
    "tariq": (State.SELF_ASSESSMENT, ""),
}

# username: (offset from Desired in the first appraised year, change per year). 0 is "at Desired".
# The night team (Daniel, Kemi, Rhys) started low and improved year on year.
TRENDS = {
    "manager": (0.4, 0.1),
    "staff": (-0.1, 0.25),
    "aisha": (-0.7, 0.3),
    "tom": (0.3, 0.0),
    "leah": (-0.6, 0.45),
    "owen": (-0.3, 0.3),
    "jo": (-0.1, 0.2),
    "daniel": (-0.3, 0.35),
    "kemi": (-0.7, 0.4),
    "rhys": (-0.3, 0.45),
    "ben": (-0.4, 0.35),
    "nadia": (-0.35, 0.0),
    "lucy": (0.1, 0.0),
    "marek": (-0.4, 0.3),
    "femi": (0.0, 0.1),
    "ellie": (0.2, 0.05),
    "hamza": (0.0, 0.0),
    "rosie": (-0.3, 0.3),
    "sean": (-0.4, 0.3),
    "holly": (-0.3, 0.05),
    "zara": (-0.5, 0.0),
    "amy": (0.0, 0.0),
}

# How the organisation fares on each competency, added to everyone's offset: the development needs
# gather in Working with Change (a new rota and a restructure) and in Policy, Procedure and Practice
# (recording); customer care and teamwork are its strengths.
LEANINGS = {
    "working-with-change": -0.75,
    "policy-procedure-and-practice": -0.6,
    "customer-care": 0.35,
    "partnership-and-teamwork": 0.3,
}
# Where an offset from Desired lands: above EXCEPTIONAL is Exceptional, below ENTRY is Entry, below
# BELOW_ENTRY is under the window.
EXCEPTIONAL, ENTRY, BELOW_ENTRY_AT = 0.65, -0.45, -1.3

# Levels fixed regardless of the draws: (username, competency slug) -> {year: level}. These make
# the sustained-level rule visible: level 4 held for a year becomes level 5 where the window's
# level 5 is "level 4 maintained for at least 1 year".
FIXED_LEVELS = {
    # Senior Service Coordinator throughout: 4 in 2023, then 5 by the rule from 2024.
    ("manager", "organisation-and-sector-awareness"): {2023: 4, 2024: 4, 2025: 4, 2026: 4},
    # Recovery Coach: 3, then 4 in 2024, then 5 by the rule in 2025 and 2026.
    ("ellie", "policy-procedure-and-practice"): {2023: 3, 2024: 4, 2025: 4, 2026: 4},
    # Level 4 as a Support Worker (window 2–4) in 2025, level 4 again as Senior Service
    # Coordinator (window 3–5) in 2026: 5 by the rule, across the promotion.
    ("jo", "organisation-and-sector-awareness"): {2023: 3, 2024: 3, 2025: 4, 2026: 4},
    # Daniel, the night team's senior and its only supervisor: Entry while new to supervising, then
    # Desired, then Exceptional (window 1–3).
    ("daniel", "releasing-potential"): {2023: 1, 2024: 1, 2025: 2, 2026: 3},
}
# Below entry on one competency: (username, year) -> competency slug.
BELOW_ENTRY = {
    ("leah", 2024): "recovery-orientated-practice",
    ("rhys", 2025): "service-area-expertise",
    ("marek", 2024): "effective-communication",
}
# The appraiser overrides the derived level: (username, year) -> (slug, change of level, reason).
OVERRIDES = {
    ("owen", 2024): (
        "effective-communication",
        +1,
        "The ratings reflect one difficult case conference in January. Across the year Owen's written and spoken "
        "communication has been at the Desired level, and the CMHT care coordinators have said so unprompted.",
    ),
    ("hamza", 2025): (
        "service-area-expertise",
        -1,
        "Rated before the new Somerset referral pathway started in March; Hamza has not yet worked with it, so "
        "Desired rather than Exceptional until we have seen it in practice.",
    ),
    ("staff", 2025): (
        "customer-care",
        +1,
        "Sam's handling of the complaint from a resident's family in November was exemplary; the one 'partly' "
        "reflects a single missed call-back during the winter cover, which was followed up the same week.",
    ),
}
# Sign-offs recording disagreement: (username, year) -> comment.
DISAGREEMENTS = {
    ("kemi", 2024): (
        "I don't agree with 'partly' on managing my own workload. I covered two vacant night shifts a week for most "
        "of the winter and kept every handover and incident log up to date. I'd like that taken into account."
    ),
    ("tom", 2026): (
        "I disagree with Working with Change. The move to the new rota was handled badly and I raised concerns "
        "through the right channels, which I don't think is resistance to change. Happy with the rest."
    ),
    ("hamza", 2026): (
        "I don't accept my level for Communication. Two of the three examples are from before my induction "
        "finished, and nobody raised them with me at the time."
    ),
}
# Why an appraiser referred a disagreement on, rather than countersigning it.
REFERRAL_NOTES = {
    ("hamza", 2026): (
        "We met twice and still disagree about Communication. I would like someone outside the team to look at "
        "the evidence and decide."
    ),
}
COUNTERSIGN_REPLIES = {
    ("kemi", 2024): "Discussed with Kemi after her sign-off. We will review the night rota cover in supervision.",
}

OBJECTIVES = {
    "common": [
        (
            "Review every support plan on my caseload with the person at least every three months, and record it on "
            "the case system."
        ),
        "Keep case notes up to date within 24 hours of each contact.",
        "Complete the trauma-informed practice refresher by the end of September.",
        "Bring one learning point from reflective practice to the team meeting each quarter.",
        "Complete Mental Health First Aid training.",
        (
            "Build links with two community groups (e.g. the recovery college and a local allotment project) for "
            "people moving on."
        ),
        "Take the lead on one safeguarding referral a quarter, with support from a senior.",
    ],
    "support-worker-supported-housing": [
        "Support two residents to move on to their own tenancies, each with a tenancy sustainment plan in place.",
        "Co-facilitate the monthly residents' meeting and feed the actions back to the team.",
        "Update the risk assessment and safety plan of each resident within a week of any incident.",
    ],
    "night-senior-support-worker": [
        "Lead the nightly handover and make sure every incident is logged before the day team starts.",
        "Run a fire safety and lone working refresher for the night team.",
        "Supervise the two night support workers monthly and record the sessions.",
    ],
    "housing-worker": [
        "Keep rent arrears on my patch below 3% and agree repayment plans within two weeks of a missed payment.",
        "Complete every void inspection within two working days.",
        "Carry out annual tenancy visits for all tenants on my patch.",
    ],
    "senior-service-coordinator-afeo": [
        "Run monthly reflective practice sessions for the floating support team.",
        "Complete the ILM Level 3 in Leadership and Management.",
        "Bring waiting times for new referrals under four weeks.",
    ],
    "recovery-coach-somerset": [
        "Co-deliver one recovery college course with a peer trainer.",
        "Support each person on my caseload to set and review recovery goals using the Recovery Star.",
        "Strengthen links with the Somerset NHS talking therapies team.",
    ],
}
DEVELOPMENT = [
    "Motivational interviewing: two-day course.",
    "Safeguarding Adults Level 2.",
    "Shadow the hospital discharge liaison worker for a day.",
    "Monthly reflective practice group.",
    "Level 3 Diploma in Health and Social Care: complete units 4 to 6.",
    "Suicide awareness and safety planning (half day).",
    "Dual diagnosis awareness e-learning, then discuss in supervision.",
    "Shadow the duty senior for two shifts with a view to acting up.",
    "Tenancy law update (Renters' Rights changes).",
    "Coaching skills for recovery (Recovery College, three sessions).",
]
MANAGER_COMMENTS = {
    "strong": [
        (
            "{name} has had a strong year. People we support speak highly of the help they get, and colleagues rely "
            "on {name}'s judgement on busy shifts."
        ),
        (
            "An excellent year. {name} has been a steady presence through staff changes and has shared good practice "
            "generously with the team."
        ),
    ],
    "solid": [
        (
            "A solid year. {name} builds good relationships with the people we support and works well with the team; "
            "the focus for next year is planning ahead and keeping recording up to date."
        ),
        (
            "{name} has done a good job this year and is growing in confidence. We agreed to focus on taking the lead "
            "in multi-agency meetings."
        ),
        (
            "A good year overall, with real progress on support planning. {name} should now aim to share this "
            "practice more widely."
        ),
    ],
    "developing": [
        (
            "{name} is still building confidence in parts of the role. We agreed regular supervision focused on risk "
            "assessment and recording, and I'm confident of progress."
        ),
        (
            "A year of settling in. {name} is caring and committed; the development plan concentrates on the areas "
            "below Desired."
        ),
    ],
}
SELF_COMMENTS = [
    "It's been a busy year with a lot of staff changes, but I feel more confident with risk assessments now.",
    "I'm proud of helping two people move on this year. I'd like more training on the case management system.",
    "I've found reflective practice really useful. I'd like to develop my skills with people who use substances.",
    (
        "A tough winter with cover shifts, but I think I've kept the quality of support up. I'd like to work towards "
        "a senior role."
    ),
    (
        "I've learnt a lot this year, especially about working with other agencies. I still find difficult "
        "conversations hard."
    ),
]
SIGN_OFF_COMMENTS = [
    "Thank you, a fair reflection of the year.",
    "Happy with this. Thanks for the support this year.",
    "Agreed. Looking forward to the training in the plan.",
    "Thanks, I found the meeting really helpful.",
    "",
]
COUNTERSIGN_COMMENTS = ["", "", "", "Thank you, {name}. Well done this year."]
CONSISTENT_EVIDENCE = [
    "Seen throughout the year in supervision notes and in feedback from residents.",
    "Led the move-on planning for two residents; both now hold their own tenancies.",
    "The CMHT care coordinator praised the quality and timeliness of the referral.",
    "Observed at the March residents' meeting: calm, clear and inclusive.",
    "Support plan audit in January: every plan reviewed on time and written with the person.",
    "Picked this up without being asked during the winter staff shortage.",
    "Handled a safeguarding concern well: prompt referral, clear recording and good follow-up.",
    "Mentored a new starter through induction.",
]
DEVELOPING_EVIDENCE = [
    "Shown on some occasions but not yet consistently; we will revisit at the six-month review.",
    "Recording falls behind in busy weeks; raised in supervision.",
    "I'd like to see more confidence in challenging other agencies when a referral stalls.",
    "Early days in the role; we have agreed some shadowing to build this.",
    "Two risk assessments were not updated after incidents in the autumn.",
    "Not much opportunity this year: no new referrals on the caseload since the summer.",
]
SELF_EVIDENCE = [
    "I think I've done this well, e.g. with the resident who moved on in October.",
    "I'm not confident with this yet and would like some support.",
    "I did this during the winter cover shifts.",
    "Feedback from my supervision notes.",
]
MEASURE_COMMENTS = [
    "Met: checked monthly in supervision.",
    "Mostly met; two support plan reviews were late over the winter.",
    "Met throughout the year.",
    "Partly met while the team was short-staffed; back on track since February.",
    "Exceeded this year.",
]


STATE_WORDS = {
    State.SELF_ASSESSMENT: "self-assessment",
    State.MANAGER_REVIEW: "manager review",
    State.AWAITING_SIGN_OFF: "awaiting sign-off",
    State.AWAITING_COUNTERSIGN: "awaiting countersignature",
    State.REFERRED: "referred after disagreement",
    State.COMPLETED: "completed",
}


@dataclass
class Summary:
    cycles_created: int = 0
    appraisals_created: int = 0
    current_states: Counter = field(default_factory=Counter)
    level_5_by_rule: list[str] = field(default_factory=list)
    current_name: str = ""

    def line(self) -> str:
        if not self.appraisals_created:
            return "Appraisal history already there: nothing added."
        states = ", ".join(
            f"{self.current_states[state]} {words}"
            for state, words in STATE_WORDS.items()
            if self.current_states[state]
        )
        people = sorted({entry.split(":")[0] for entry in self.level_5_by_rule})
        current = f" ({self.current_name}: {states})" if states else ""
        return (
            f"Appraisal history: {self.cycles_created} cycles, {self.appraisals_created} appraisals{current}; "
            f"level 5 by the sustained rule {len(self.level_5_by_rule)} times ({', '.join(people) or 'nobody'})."
        )


def seed_appraisals(calendar: DemoCalendar, *, hr_username: str = "hr") -> Summary:
    """Create the past cycles and the current one for `calendar`, unless already there. Call inside a transaction."""
    summary = Summary()
    people = {member.pk: member for member in StaffMember.objects.select_related("user")}
    users = {member.pk: member.user for member in people.values()}
    hr = next(member.user for member in people.values() if member.user.username == hr_username)
    context = _Context(
        users=users,
        usernames={pk: member.user.username for pk, member in people.items()},
        first_names={pk: member.user.first_name for pk, member in people.items()},
        slugs=dict(Competency.objects.values_list("pk", "slug")),
        starts=_starts(),
        calendar=calendar,
    )
    for year in PAST_YEARS:
        cycle, created = _cycle(hr, year, calendar)
        summary.cycles_created += created
        if cycle.appraisals.exists():
            continue
        appraisals = _open_past_cycle(hr, cycle, list(people.values()))
        for appraisal in appraisals:
            _walk(appraisal, State.COMPLETED, "", context)
        summary.appraisals_created += len(appraisals)
    cycle, created = _cycle(hr, CURRENT_YEAR, calendar)
    summary.cycles_created += created
    summary.current_name = cycle.name
    if not cycle.appraisals.exists():
        cycles.open_cycle(by=hr, cycle=cycle)
        opened = _opening_time(cycle)
        AppraisalCycle.objects.filter(pk=cycle.pk).update(opened_at=opened)
        Appraisal.objects.filter(cycle=cycle).update(created_at=opened, updated_at=opened)
        AppraisalEvent.objects.filter(appraisal__cycle=cycle, action="open").update(at=opened)
        AuditEntry.objects.filter(object_type="appraisal cycle", object_id=str(cycle.pk), action="open").update(
            at=opened
        )
        AuditEntry.objects.filter(
            object_type="appraisal",
            object_id__in=[str(pk) for pk in cycle.appraisals.values_list("pk", flat=True)],
            action="open",
        ).update(at=opened)
        appraisals = list(_appraisals(cycle))
        for appraisal in appraisals:
            username = context.usernames[appraisal.staff_member_id]
            state, variant = CURRENT_STATES.get(username, (State.COMPLETED, ""))
            _walk(appraisal, state, variant, context)
            summary.current_states[state] += 1
        summary.appraisals_created += len(appraisals)
    if summary.appraisals_created:
        summary.level_5_by_rule = level_5_by_rule()
    return summary


def level_5_by_rule() -> list[str]:
    """ "Name: competency (cycle)" for each derived level reached by a sustained-level rule."""
    found = []
    for scored in (
        ScoredCompetency.objects.filter(derived_level__isnull=False)
        .select_related("appraisal__cycle", "appraisal__staff_member__user")
        .order_by("appraisal__staff_member__user__username", "appraisal__cycle__period_end")
    ):
        rule = next(
            (
                level
                for level in scored.levels
                if level["number"] == scored.derived_level and level.get("sustained_level")
            ),
            None,
        )
        if rule:
            found.append(f"{scored.appraisal.staff_member}: {scored.name} ({scored.appraisal.cycle.period_end.year})")
    return found


# --- cycles ---------------------------------------------------------------------------------------


def _cycle(hr, year: int, calendar: DemoCalendar) -> tuple[AppraisalCycle, bool]:
    """The annual cycle written for `year` (period April to March, due end of June), moved to `calendar`."""
    period_end = calendar.date(datetime.date(year, 3, 31))
    name = f"Annual appraisal {period_end.year}"
    cycle = AppraisalCycle.objects.filter(name=name).first()
    if cycle:
        return cycle, False
    cycle = cycles.create_cycle(
        by=hr,
        name=name,
        period_start=calendar.date(datetime.date(year - 1, 4, 1)),
        period_end=period_end,
        due_on=calendar.date(datetime.date(year, 6, 30)),
        self_assessment=year >= SELF_ASSESSMENT_FROM,
    )
    created = _moment(calendar.date(datetime.date(year, 3, 10)), 10)
    AppraisalCycle.objects.filter(pk=cycle.pk).update(created_at=created)
    AuditEntry.objects.filter(object_type="appraisal cycle", object_id=str(cycle.pk)).update(at=created)
    cycle.created_at = created
    return cycle, True


def _opening_time(cycle: AppraisalCycle) -> datetime.datetime:
    return _moment(cycle.period_end + datetime.timedelta(days=3), 9)


def _open_past_cycle(hr, cycle: AppraisalCycle, people: list[StaffMember]) -> list[Appraisal]:
    """What `open_cycle` does, but with the role profile and line manager each person had at the period end."""
    day = cycle.period_end
    opened = _opening_time(cycle)
    roles, managers = defaultdict(list), defaultdict(list)
    for row in RoleAssignment.objects.filter(since__lte=day).order_by("since", "pk"):
        roles[row.staff_member_id].append(row.role_profile_id)
    for assignment in LineManagerAssignment.objects.filter(since__lte=day).order_by("since", "pk"):
        managers[assignment.staff_member_id].append(assignment.line_manager_id)
    held: dict[int, tuple[int, int]] = {}  # {person id: (role profile id, line manager id)}
    for person in people:
        if not person.is_active_on(opened.date()) or not roles[person.pk] or not managers[person.pk]:
            continue  # not employed yet (or had left), held no role profile, or had no line manager
        if (manager_id := managers[person.pk][-1]) is not None:
            held[person.pk] = (roles[person.pk][-1], manager_id)
    versions = current_versions({role for role, _ in held.values()})
    by_id = {person.pk: person for person in people}
    appraisers = StaffMember.objects.select_related("user").in_bulk({manager_id for _, manager_id in held.values()})
    created = cycles.create_appraisals(
        cycle=cycle,
        by=hr,
        at=opened,
        candidates=[
            Candidate(by_id[person_id], appraisers[manager_id], versions[role_id])
            for person_id, (role_id, manager_id) in held.items()
            if role_id in versions
        ],
    )
    AppraisalCycle.objects.filter(pk=cycle.pk).update(opened_at=opened, opened_by=hr)
    entry = trail.record(
        actor=hr,
        action="open",
        obj=cycle,
        object_type="appraisal cycle",
        changes={"appraisals created": len(created), "not appraised": []},
    )
    AuditEntry.objects.filter(pk=entry.pk).update(at=opened)
    AuditEntry.objects.filter(
        object_type="appraisal", object_id__in=[str(a.pk) for a in created], action="open"
    ).update(at=opened)
    return list(_appraisals(cycle))


def _appraisals(cycle: AppraisalCycle):
    return (
        Appraisal.objects.filter(cycle=cycle)
        .select_related("cycle", "role_version__role_profile", "staff_member__user", "appraiser__user")
        .order_by("staff_member__user__username")
    )


def _starts() -> dict[str, datetime.date]:
    """{username: the first day of their first role}."""
    starts = {}
    for username, since in RoleAssignment.objects.order_by("-since").values_list(
        "staff_member__user__username", "since"
    ):
        starts[username] = since
    return starts


# --- one appraisal --------------------------------------------------------------------------------


@dataclass
class _Context:
    users: dict
    usernames: dict
    first_names: dict
    slugs: dict
    starts: dict
    calendar: DemoCalendar
    measures: dict = field(default_factory=dict)


def _walk(appraisal: Appraisal, to: str, variant: str, context: _Context) -> None:
    """Take a freshly opened appraisal through the services to state `to`, then date its steps."""
    username = context.usernames[appraisal.staff_member_id]
    year = context.calendar.written_year(appraisal.cycle.period_end)
    rng = random.Random(f"{username}{year}")
    staff_user = context.users[appraisal.staff_member_id]
    appraiser_user = context.users[appraisal.appraiser_id]
    scored = list(ScoredCompetency.objects.filter(appraisal=appraisal))
    targets = _targets(username, year, scored, context, rng)
    ratings = ratings_towards(scored, targets, rng)
    times = step_times(appraisal.cycle, rng, latest=context.calendar.latest_moment())
    done = []

    if appraisal.state == State.SELF_ASSESSMENT:
        self_ratings = self_ratings_from(ratings, rng)
        if to == State.SELF_ASSESSMENT:
            if variant == "partial":
                first = {
                    i
                    for competency in scored[: len(scored) // 2]
                    for level in competency.levels
                    for i in level["indicators"]
                }
                scoring.save_self_assessment(
                    by=staff_user,
                    appraisal=appraisal,
                    revision=appraisal.revision,
                    ratings={i: value for i, value in self_ratings.items() if i in first},
                    comments="",
                )
                done.append("save self-assessment")
            _date(appraisal, times, done)
            return
        scoring.save_self_assessment(
            by=staff_user,
            appraisal=appraisal,
            revision=appraisal.revision,
            ratings=self_ratings,
            comments=rng.choice(SELF_COMMENTS),
        )
        workflow.submit_self_assessment(by=staff_user, appraisal=appraisal, revision=appraisal.revision)
        done += ["save self-assessment", "submit self-assessment"]

    name = context.first_names[appraisal.staff_member_id]
    if to == State.MANAGER_REVIEW:
        if variant == "draft":
            half = {
                i
                for competency in scored[: len(scored) // 2]
                for level in competency.levels
                for i in level["indicators"]
            }
            scoring.save_review(
                by=appraiser_user,
                appraisal=appraisal,
                revision=appraisal.revision,
                ratings={i: value for i, value in ratings.items() if i in half},
                overrides={},
                measures={},
                meeting_date=times["save review"].date(),
                objectives=_objectives(appraisal, rng),
                development_plan="",
                manager_comments="",
            )
            done.append("save review")
        _date(appraisal, times, done)
        return

    overrides = _overrides(username, year, scored, targets, context)
    scoring.save_review(
        by=appraiser_user,
        appraisal=appraisal,
        revision=appraisal.revision,
        ratings=ratings,
        overrides=overrides,
        measures=_measure_comments(appraisal, context, rng),
        meeting_date=times["save review"].date(),
        objectives=_objectives(appraisal, rng),
        development_plan="\n".join(rng.sample(DEVELOPMENT, 2)),
        manager_comments=rng.choice(MANAGER_COMMENTS[_band(scored, targets)]).format(name=name),
    )
    workflow.share(by=appraiser_user, appraisal=appraisal, revision=appraisal.revision)
    done += ["save review", "share"]
    if to == State.AWAITING_SIGN_OFF:
        _date(appraisal, times, done)
        return

    disagreement = DISAGREEMENTS.get((username, year))
    workflow.sign_off(
        by=staff_user,
        appraisal=appraisal,
        revision=appraisal.revision,
        agrees=disagreement is None,
        comments=disagreement or rng.choice(SIGN_OFF_COMMENTS),
    )
    done.append(workflow.sign_off_action(disagreement is None))
    if to == State.AWAITING_COUNTERSIGN:
        _date(appraisal, times, done)
        return
    if to == State.REFERRED:
        referee = workflow.referee_for(appraisal)
        workflow.refer(
            by=appraiser_user,
            appraisal=appraisal,
            revision=appraisal.revision,
            to=workflow.TO_MANAGER if referee else workflow.TO_HR,
            note=REFERRAL_NOTES[(username, year)],
        )
        action = "refer to the line manager's manager" if referee else "refer to HR"
        times[action] = times["countersign"]
        done.append(action)
        _date(appraisal, times, done)
        Appraisal.objects.filter(pk=appraisal.pk).update(referred_at=times[action])
        return

    reply = COUNTERSIGN_REPLIES.get((username, year)) or rng.choice(COUNTERSIGN_COMMENTS).format(name=name)
    workflow.countersign(by=appraiser_user, appraisal=appraisal, revision=appraisal.revision, comments=reply)
    action = workflow.countersign_action(disagreement is None)
    times[action] = times["countersign"]
    done.append(action)
    _date(appraisal, times, done)


def _targets(
    username: str, year: int, scored: list[ScoredCompetency], context: _Context, rng: random.Random
) -> dict[int, int]:
    """{competency id: the level the ratings will show}: mostly Desired, with the person's trend, the
    organisation's leanings (LEANINGS) and some noise. The ratings are then chosen to show it."""
    traits = random.Random(username)
    strengths = {slug: traits.gauss(0, 0.45) for slug in sorted(context.slugs.values())}
    offset, growth = TRENDS.get(username, (0.0, 0.0))
    start = context.starts.get(username)
    first_year = next(
        (
            y
            for y in (*PAST_YEARS, CURRENT_YEAR)
            if start is None or context.calendar.date(datetime.date(y, 3, 31)) >= start
        ),
        year,
    )
    targets = {}
    for competency in scored:
        slug = context.slugs[competency.competency_id]
        drift = offset + growth * max(0, year - first_year) + LEANINGS.get(slug, 0) + strengths[slug]
        drift += rng.gauss(0, 0.35)
        # Desired unless clearly above or below it: Exceptional should stand out.
        step = 1 if drift > EXCEPTIONAL else -2 if drift < BELOW_ENTRY_AT else -1 if drift < ENTRY else 0
        level = competency.desired_level + step  # Entry less one is 0 in a window from level 1
        if (username, year) in BELOW_ENTRY and BELOW_ENTRY[(username, year)] == slug:
            level = competency.entry_level - 1
        level = FIXED_LEVELS.get((username, slug), {}).get(year, level)
        top = max((lv["number"] for lv in competency.levels if lv["indicators"]), default=competency.entry_level)
        targets[competency.competency_id] = min(level, top)
    return targets


def ratings_towards(
    scored: list[ScoredCompetency], targets: dict[int, int], rng: random.Random
) -> dict[int, tuple[str, str]]:
    """Ratings for every indicator in the window that make the derived level come out at the target."""
    ratings = {}
    for competency in scored:
        target = targets[competency.competency_id]
        for level in competency.levels:
            ids = level["indicators"]
            if not ids:
                continue  # a sustained-level rule: decided by the person's history
            if level["number"] <= target:
                marks = [CONSISTENTLY] * len(ids)
            elif level["number"] == target + 1:
                marks = rng.choices([CONSISTENTLY, PARTLY, NOT_YET], weights=[45, 40, 15], k=len(ids))
                if all(mark == CONSISTENTLY for mark in marks):
                    marks[rng.randrange(len(ids))] = PARTLY
            else:
                marks = rng.choices([PARTLY, NOT_YET], weights=[35, 65], k=len(ids))
            for indicator_id, mark in zip(ids, marks, strict=True):
                evidence = ""
                if mark == CONSISTENTLY and level["number"] == target and rng.random() < 0.3:
                    evidence = rng.choice(CONSISTENT_EVIDENCE)
                elif mark != CONSISTENTLY and level["number"] == target + 1 and rng.random() < 0.4:
                    evidence = rng.choice(DEVELOPING_EVIDENCE)
                ratings[indicator_id] = (mark, evidence)
    return ratings


def self_ratings_from(ratings: dict[int, tuple[str, str]], rng: random.Random) -> dict[int, tuple[str, str]]:
    """The person's own view: the manager's ratings, a step up or down here and there."""
    up = {NOT_YET: PARTLY, PARTLY: CONSISTENTLY, CONSISTENTLY: CONSISTENTLY}
    down = {CONSISTENTLY: PARTLY, PARTLY: NOT_YET, NOT_YET: NOT_YET}
    own = {}
    for indicator_id, (mark, _evidence) in ratings.items():
        draw = rng.random()
        mark = up[mark] if draw < 0.15 else down[mark] if draw < 0.22 else mark
        own[indicator_id] = (mark, rng.choice(SELF_EVIDENCE) if rng.random() < 0.06 else "")
    return own


def _overrides(username: str, year: int, scored, targets, context: _Context) -> dict[int, tuple[int | None, str]]:
    if (username, year) not in OVERRIDES:
        return {}
    slug, change, reason = OVERRIDES[(username, year)]
    for competency in scored:
        if context.slugs[competency.competency_id] == slug:
            level = targets[competency.competency_id] + change
            level = max(competency.entry_level - 1, min(competency.exceptional_level, level))
            if level == targets[competency.competency_id]:
                return {}
            return {competency.competency_id: (level, reason)}
    return {}


def _band(scored, targets) -> str:
    mean = statistics.mean(targets[c.competency_id] - c.desired_level for c in scored) if scored else 0
    return "strong" if mean >= 0.3 else "developing" if mean <= -0.3 else "solid"


def _objectives(appraisal: Appraisal, rng: random.Random) -> str:
    slug = appraisal.role_version.role_profile.slug
    chosen = rng.sample(OBJECTIVES.get(slug, []), 2) + rng.sample(OBJECTIVES["common"], 1)
    return "\n".join(f"{number}. {text}" for number, text in enumerate(chosen, 1))


def _measure_comments(appraisal: Appraisal, context: _Context, rng: random.Random) -> dict[int, str]:
    version_id = appraisal.role_version_id
    if version_id not in context.measures:
        context.measures[version_id] = list(
            PerformanceMeasure.objects.filter(version_id=version_id).values_list("pk", flat=True)
        )
    return {pk: rng.choice(MEASURE_COMMENTS) for pk in context.measures[version_id] if rng.random() < 0.4}


# --- dates ----------------------------------------------------------------------------------------


def _moment(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, minute)))


def step_times(
    cycle: AppraisalCycle, rng: random.Random, *, latest: datetime.datetime | None = None
) -> dict[str, datetime.datetime]:
    """When each step happened: self-assessment within weeks of the opening, the meeting a few weeks later,
    sign-offs by the due date; none later than `latest` (by default, a few minutes ago)."""
    opened = _opening_time(cycle).date()
    self_assessed = opened + datetime.timedelta(days=rng.randint(7, 21))
    meeting = self_assessed + datetime.timedelta(days=rng.randint(5, 25))
    shared = meeting + datetime.timedelta(days=rng.randint(1, 10))
    signed = shared + datetime.timedelta(days=rng.randint(1, 12))
    countersigned = signed + datetime.timedelta(days=rng.randint(1, 6))
    times = {
        "save self-assessment": _moment(self_assessed, rng.randint(10, 15), rng.randint(0, 59)),
        "save review": _moment(meeting, rng.randint(14, 16), rng.randint(0, 59)),
        "share": _moment(shared, rng.randint(9, 17), rng.randint(0, 59)),
        "sign off": _moment(signed, rng.randint(9, 17), rng.randint(0, 59)),
        "countersign": _moment(countersigned, rng.randint(9, 17), rng.randint(0, 59)),
    }
    times["submit self-assessment"] = times["save self-assessment"] + datetime.timedelta(minutes=rng.randint(5, 40))
    times["sign off, disagreeing"] = times["sign off"]
    if latest is None:
        latest = timezone.now() - datetime.timedelta(minutes=5)
    return {action: min(moment, latest) for action, moment in times.items()}


def _date(appraisal: Appraisal, times: dict[str, datetime.datetime], done: list[str]) -> None:
    """Move the steps taken (events, audit entries and the record's own timestamps) to their dates."""
    for action in done:
        AppraisalEvent.objects.filter(appraisal=appraisal, action=action).update(at=times[action])
    entries = AuditEntry.objects.filter(object_type="appraisal", object_id=str(appraisal.pk))
    for action in done:
        entries.filter(action=action).update(at=times[action])
    values = {}
    if done:
        values["updated_at"] = times[done[-1]]
    if "share" in done:
        values["shared_at"] = times["share"]
    signed = next((action for action in done if action.startswith("sign off")), None)
    if signed:
        values["signed_off_at"] = times[signed]
    if any(action.startswith("countersign") for action in done):
        values["countersigned_at"] = values["completed_at"] = times["countersign"]
    if values:
        Appraisal.objects.filter(pk=appraisal.pk).update(**values)
