"""An organisation at scale, for the benchmark (`python manage.py seed_scale`).

`seed_scale(staff=N, years=Y)` creates, on a database holding no staff yet:

- services of about 200 people, each with a head of services (no role profile, not appraised) and
  teams of a line manager (Senior Service Coordinator, or Night Senior Support Worker in the night
  services) with 6–12 reports holding the service's worker role profile;
- the five role profiles from `fixtures/` and, for two of them, a second published version with a
  changed window (published between two cycles, so older records keep the first version's window);
- role changes (workers promoted to line manager), line-manager changes, leavers (about one in ten,
  on top of the N active staff) and joiners (who miss the cycles before they started);
- Y completed annual cycles (period 1 April to 31 March, the last one ending before today), in which
  every active member of staff with a role profile and a line manager has a completed record: every
  indicator rated (and self-rated), windows snapshotted as `cycles.create_appraisals` does,
  derived levels from `rules.derive_level` with the person's history (so sustained-level rules
  apply), overrides now and then, signed off and countersigned, with its events and audit entries;
- one open cycle (the current year), opened with `cycles.open_cycle`, its appraisals spread over
  every state of the workflow.

Logins (password `demo`): `hr` (HR admin), `head` (head of the first service), `manager` (a line
manager in it) and `staff` (one of `manager`'s reports, appraised every year, in manager review in
the open cycle). Rows are written with `bulk_create` in large batches, one transaction per cycle.
Ratings are pseudo-random but deterministic for a given size.
"""

import datetime
import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone

from appraisal import selectors, tallies
from appraisal.models import Appraisal, AppraisalCycle, AppraisalEvent, IndicatorRating, MeasureReview, ScoredCompetency
from appraisal.rules import Record, WindowLevel, derive_level
from appraisal.services import cycles, workflow
from audit.models import AuditEntry
from competencies.models import Competency
from core.access import make_hr_admin
from demo.appraisals import (
    COUNTERSIGN_COMMENTS,
    DEVELOPMENT,
    DISAGREEMENTS,
    MANAGER_COMMENTS,
    MEASURE_COMMENTS,
    OBJECTIVES,
    SELF_COMMENTS,
    SIGN_OFF_COMMENTS,
    ratings_towards,
    self_ratings_from,
    step_times,
)
from roles import services as role_services
from roles.models import PerformanceMeasure, RoleProfile, RoleProfileVersion
from staff.models import LineManagerAssignment, RoleAssignment, Service, StaffMember

State = Appraisal.State
PASSWORD = "demo"  # noqa: S105 - the seeded logins' password, given in the README
BATCH = 5000
SERVICE_SIZE = 200
# The share of sign-offs that record disagreement (HR's report lists them, a page at a time).
DISAGREEING = 0.02

MANAGER_ROLE = "senior-service-coordinator-afeo"
NIGHT_MANAGER_ROLE = "night-senior-support-worker"
# Kinds of service: (name, worker role profile, manager role profile).
SERVICE_KINDS = [
    ("Supported Housing", "support-worker-supported-housing", MANAGER_ROLE),
    ("Housing Services", "housing-worker", MANAGER_ROLE),
    ("Recovery Coaching", "recovery-coach-somerset", MANAGER_ROLE),
    ("Night Support", "support-worker-supported-housing", NIGHT_MANAGER_ROLE),
    ("Higher Needs Floating Support", "support-worker-supported-housing", MANAGER_ROLE),
]
PLACES = [
    "Bristol",
    "Somerset",
    "Bath",
    "Gloucester",
    "Swindon",
    "Taunton",
    "Weston",
    "Yeovil",
    "Stroud",
    "Frome",
    "Cheltenham",
    "Bridgwater",
    "Wells",
    "Trowbridge",
    "Chippenham",
    "Exeter",
    "Plymouth",
    "Torbay",
    "Salisbury",
    "Newport",
]
FIRST_NAMES = [
    "Aisha",
    "Ben",
    "Chloe",
    "Daniel",
    "Ellie",
    "Femi",
    "Grace",
    "Hamza",
    "Isla",
    "Jo",
    "Kemi",
    "Leah",
    "Marek",
    "Nadia",
    "Owen",
    "Priya",
    "Rhys",
    "Rosie",
    "Sam",
    "Tom",
    "Uma",
    "Vik",
    "Will",
    "Yasmin",
    "Zara",
    "Amir",
    "Bethan",
    "Callum",
    "Dina",
    "Ewan",
    "Farah",
    "Gareth",
    "Hannah",
    "Imran",
    "Jade",
    "Kieran",
    "Lucy",
    "Mo",
    "Niamh",
    "Olu",
]
LAST_NAMES = [
    "Adeyemi",
    "Ali",
    "Begum",
    "Carter",
    "Clarke",
    "Evans",
    "Fletcher",
    "Green",
    "Hardy",
    "Hughes",
    "Hussain",
    "Jones",
    "Khan",
    "Morris",
    "Murphy",
    "Nowak",
    "Okafor",
    "Oladipo",
    "Price",
    "Reed",
    "Shah",
    "Taylor",
    "Turner",
    "Walker",
    "Walsh",
    "Ellis",
    "Patel",
    "Singh",
    "Wright",
    "Cooper",
    "Baker",
    "Kowalski",
    "Mensah",
    "Osei",
    "Bell",
    "Moore",
]
# Where the open cycle's appraisals are left (share of people).
OPEN_STATES = [
    (State.SELF_ASSESSMENT, 40),
    (State.MANAGER_REVIEW, 30),
    (State.AWAITING_SIGN_OFF, 12),
    (State.AWAITING_COUNTERSIGN, 6),
    (State.COMPLETED, 12),
]
# Role profiles given a second published version with one window moved.
VARIANTS = ("support-worker-supported-housing", "housing-worker")


@dataclass
class Person:
    username: str
    first: str
    last: str
    kind: str  # "hr", "head", "manager" or "worker"
    service: int | None
    role: str | None  # current role profile slug
    start: datetime.date
    left_on: datetime.date | None = None
    roles: list = field(default_factory=list)  # [(slug, since)], oldest first
    managers: list = field(default_factory=list)  # [(Person, since)], oldest first
    offset: float = 0.0
    growth: float = 0.0
    pk: int | None = None
    user_id: int | None = None

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"

    def role_on(self, day):
        held = [slug for slug, since in self.roles if since <= day]
        return held[-1] if held else None

    def manager_on(self, day):
        held = [manager for manager, since in self.managers if since <= day]
        return held[-1] if held else None

    def active_on(self, day) -> bool:
        return self.start <= day and (self.left_on is None or self.left_on > day)


@dataclass
class Summary:
    people: int = 0
    leavers: int = 0
    cycles: int = 0
    appraisals: int = 0
    ratings: int = 0
    seconds: float = 0.0
    states: Counter = field(default_factory=Counter)


def period_end_years(years: int, today: datetime.date) -> tuple[list[int], int]:
    """The completed cycles' period-end years (oldest first) and the open cycle's."""
    last = today.year if today >= datetime.date(today.year, 7, 1) else today.year - 1
    return list(range(last - years + 1, last + 1)), last + 1


def seed_scale(*, staff: int, years: int, out=None, seed: int = 1) -> Summary:
    """Create the organisation and its appraisals (see the module docstring). `out(text)` reports progress."""
    out = out or (lambda text: None)
    started = time.monotonic()
    today = timezone.localdate()
    rng = random.Random(seed)
    completed_years, open_year = period_end_years(years, today)
    summary = Summary()

    with transaction.atomic():
        people, service_names = _organisation(staff, completed_years, today, rng)
        hr = _insert_people(people, service_names)
        versions = _variants(hr, completed_years, rng)
    summary.people = sum(1 for p in people if p.left_on is None)
    summary.leavers = len(people) - summary.people
    service_count = len({p.service for p in people if p.service is not None})
    seconds = time.monotonic() - started
    out(f"{len(people)} people ({summary.leavers} leavers) in {service_count} services ({seconds:.1f} s)")

    competencies = {c.pk: c.slug for c in Competency.objects.all()}
    measures = defaultdict(list)
    for version_id, pk in PerformanceMeasure.objects.values_list("version_id", "pk"):
        measures[version_id].append(pk)
    context = _Context(
        hr=hr,
        competencies=competencies,
        measures=measures,
        history=defaultdict(lambda: defaultdict(list)),
        first_year=completed_years[0],
    )
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"):
        for year in completed_years:
            with transaction.atomic():
                count, ratings = _completed_cycle(year, people, versions, context, rng)
            summary.cycles += 1
            summary.appraisals += count
            summary.ratings += ratings
            summary.states[State.COMPLETED] += count
            out(
                f"Annual appraisal {year}: {count} completed appraisals, {ratings} indicator ratings "
                f"({time.monotonic() - started:.1f} s)"
            )
        with transaction.atomic():
            states, ratings = _open_cycle(open_year, people, context, rng)
        summary.cycles += 1
        summary.appraisals += sum(states.values())
        summary.ratings += ratings
        summary.states.update(states)
        out(
            f"Annual appraisal {open_year} (open): {sum(states.values())} appraisals, "
            + ", ".join(f"{count} {State(state).label.lower()}" for state, count in states.items())
            + f" ({time.monotonic() - started:.1f} s)"
        )
    tallies.rebuild()  # the rows above were written in bulk, past the services that keep the report's tallies
    summary.seconds = time.monotonic() - started
    return summary


# --- the organisation -----------------------------------------------------------------------------


def _organisation(
    staff: int, completed_years: list[int], today: datetime.date, rng: random.Random
) -> tuple[list[Person], list[str]]:
    """Everyone, in memory: `staff` active people and about a tenth as many leavers; and the services' names."""
    first_cycle = datetime.date(completed_years[0], 3, 31)
    names = iter(
        rng.sample([(first, last) for first in FIRST_NAMES for last in LAST_NAMES], len(FIRST_NAMES) * len(LAST_NAMES))
    )
    counter = iter(range(1, 10**7))

    def person(kind, service, role, start, username=None):
        first, last = next(names, None) or (rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES))
        username = username or f"{first}.{last}.{next(counter)}".lower()
        return Person(
            username=username,
            first=first,
            last=last,
            kind=kind,
            service=service,
            role=role,
            start=start,
            offset=rng.gauss(-0.2, 0.35),
            growth=rng.choice([0.0, 0.0, rng.uniform(0.1, 0.4)]),
        )

    def long_ago():
        return first_cycle - datetime.timedelta(days=rng.randint(400, 4000))

    hr = person("hr", None, None, long_ago(), "hr")
    hr.first, hr.last = "Helen", "Hughes"
    people, service_names = [hr], []
    remaining = max(staff - 1, 0)
    service_count = max(2, round(remaining / SERVICE_SIZE))
    # The first service is of the kind whose worker role has the most indicators: `staff` scores the longest sheet.
    kinds = sorted(range(len(SERVICE_KINDS)), key=lambda i: -_indicator_counts().get(SERVICE_KINDS[i][1], 0))
    sizes = [remaining // service_count + (1 if i < remaining % service_count else 0) for i in range(service_count)]
    for index, size in enumerate(sizes):
        kind = SERVICE_KINDS[kinds[0]] if index == 0 else SERVICE_KINDS[(kinds[0] + index) % len(SERVICE_KINDS)]
        head = person("head", index, None, long_ago(), "head" if index == 0 else None)
        people.append(head)
        left = size - 1
        teams: list[list] = []  # [manager, number of reports]
        while left > 0:
            reports = min(rng.randint(6, 12), left - 1) if left > 1 else 0
            if reports < 6 and teams:  # too few for a team of its own: join the others
                for _ in range(left):
                    teams[rng.randrange(len(teams))][1] += 1
                break
            teams.append([None, reports])
            left -= reports + 1
        for number, team in enumerate(teams):
            first_team = index == 0 and number == 0
            manager = person("manager", index, kind[2], long_ago(), "manager" if first_team else None)
            manager.managers = [(head, manager.start)]
            manager.roles = [(kind[2], manager.start)]
            if (
                rng.random() < 0.3 and not first_team
            ):  # promoted from the service's worker role during the years recorded
                promoted = datetime.date(
                    rng.choice(completed_years[1:] or completed_years), rng.randint(4, 12), rng.randint(1, 28)
                )
                promoted = min(promoted, today - datetime.timedelta(days=30))
                manager.roles = [(kind[1], manager.start), (kind[2], promoted)]
            people.append(manager)
            team[0] = manager
        for number, (manager, reports) in enumerate(teams):
            for r in range(reports):
                first_report = index == 0 and number == 0 and r == 0
                joined = (
                    long_ago()
                    if first_report or rng.random() < 0.7
                    else first_cycle + datetime.timedelta(days=rng.randint(0, (today - first_cycle).days - 30))
                )
                worker = person("worker", index, kind[1], joined, "staff" if first_report else None)
                worker.roles = [(kind[1], joined)]
                worker.managers = [(manager, joined)]
                if (
                    rng.random() < 0.2 and len(teams) > 1 and not first_report
                ):  # another manager of the service until a change
                    earlier = rng.choice([t[0] for t in teams if t[0] is not manager])
                    change = max(joined, first_cycle) + datetime.timedelta(days=rng.randint(60, 900))
                    if change < today:
                        worker.managers = [(earlier, joined), (manager, change)]
                if first_report:
                    worker.offset, worker.growth = -0.3, 0.25
                people.append(worker)
            for _ in range(round(reports / 10 + rng.random() - 0.5)):  # leavers, who kept their records
                joined = long_ago()
                leaver = person("worker", index, kind[1], joined)
                leaver.roles = [(kind[1], joined)]
                leaver.managers = [(manager, joined)]
                leaver.left_on = first_cycle + datetime.timedelta(
                    days=rng.randint(30, max(31, (today - first_cycle).days - 30))
                )
                people.append(leaver)
        service_names.append(
            f"{kind[0]}, {PLACES[index % len(PLACES)]}"
            + (f" {index // len(PLACES) + 1}" if index >= len(PLACES) else "")
        )
    return people, service_names


_INDICATORS: dict[str, int] = {}


def _indicator_counts() -> dict[str, int]:
    """{role profile slug: indicators in its current window}, to find the longest scoring sheet."""
    if not _INDICATORS:
        snapshots = cycles.window_snapshots(
            selectors.current_versions(RoleProfile.objects.values_list("pk", flat=True)).values()
        )
        for version in selectors.current_versions(RoleProfile.objects.values_list("pk", flat=True)).values():
            _INDICATORS[version.role_profile.slug] = sum(
                len(level["indicators"]) for row in snapshots[version.pk] for level in row["levels"]
            )
    return _INDICATORS


def _insert_people(people: list[Person], service_names: list[str]):
    """Users, staff records and their role and line-manager histories; returns the HR admin's user."""
    User = get_user_model()
    password = make_password(PASSWORD)  # hashed once
    Service.objects.bulk_create([Service(name=name) for name in service_names])
    by_name = {service.name: service for service in Service.objects.filter(name__in=service_names)}
    services_by_index = {index: by_name[name] for index, name in enumerate(service_names)}
    users = User.objects.bulk_create(
        [
            User(
                username=p.username,
                first_name=p.first,
                last_name=p.last,
                email=f"{p.username}@example.org",
                password=password,
            )
            for p in people
        ],
        batch_size=BATCH,
    )
    ids = dict(User.objects.values_list("username", "pk"))
    for p, user in zip(people, users, strict=True):
        p.user_id = user.pk or ids[p.username]
    roles = dict(RoleProfile.objects.values_list("slug", "pk"))
    members = StaffMember.objects.bulk_create(
        [
            StaffMember(
                user_id=p.user_id,  # type: ignore[misc]  # set above, as are the ids below
                job_title={"hr": "HR Business Partner", "head": "Head of Services"}.get(p.kind, ""),
                service=services_by_index.get(p.service),  # type: ignore[arg-type]  # None: no service
                role_profile_id=roles[p.role] if p.role else None,
                role_profile_since=p.roles[-1][1] if p.role else None,
                left_on=p.left_on,
            )
            for p in people
        ],
        batch_size=BATCH,
    )
    by_user = dict(StaffMember.objects.values_list("user_id", "pk"))
    for p, member in zip(people, members, strict=True):
        p.pk = member.pk or by_user[p.user_id]  # type: ignore[index]
    with_manager = [p for p in people if p.managers]
    StaffMember.objects.bulk_update(
        [
            StaffMember(pk=p.pk, line_manager_id=p.managers[-1][0].pk, line_manager_since=p.managers[-1][1])
            for p in with_manager
        ],
        ["line_manager", "line_manager_since"],
        batch_size=1000,
    )
    RoleAssignment.objects.bulk_create(
        [
            RoleAssignment(staff_member_id=p.pk, role_profile_id=roles[slug], since=since)  # type: ignore[misc]
            for p in people
            for slug, since in p.roles
        ],
        batch_size=BATCH,
    )
    LineManagerAssignment.objects.bulk_create(
        [
            LineManagerAssignment(staff_member_id=p.pk, line_manager_id=m.pk, since=since)  # type: ignore[misc]
            for p in people
            for m, since in p.managers
        ],
        batch_size=BATCH,
    )
    hr = User.objects.get(username="hr")
    make_hr_admin(hr)
    return hr


def _variants(hr, completed_years: list[int], rng: random.Random) -> dict[str, list[RoleProfileVersion]]:
    """{slug: published versions, oldest first}: a second version, one window moved, for VARIANTS.

    The first versions date from before the first cycle; the second ones from between two cycles.
    """
    first = timezone.make_aware(datetime.datetime(completed_years[0] - 2, 1, 10, 9))
    RoleProfileVersion.objects.filter(status=RoleProfileVersion.Status.PUBLISHED, number=1).update(
        published_at=first, published_by=hr
    )
    middle = completed_years[len(completed_years) // 2]
    when = timezone.make_aware(datetime.datetime(middle - 1, 11, 15, 10))
    competencies = {c.pk: c for c in Competency.objects.prefetch_related("levels")}
    for slug in VARIANTS:
        profile = RoleProfile.objects.get(slug=slug)
        draft = role_services.start_draft(by=hr, role_profile=profile)
        requirements = list(draft.requirements.order_by("position"))
        windows: dict[int, int | None] = {r.competency_id: r.entry_level for r in requirements}
        for requirement in rng.sample(requirements, len(requirements)):
            valid = competencies[requirement.competency_id].valid_entry_levels()
            moved = [entry for entry in (requirement.entry_level + 1, requirement.entry_level - 1) if entry in valid]
            if moved:
                windows[requirement.competency_id] = moved[0]
                break
        role_services.set_windows(by=hr, version=draft, entry_levels=windows)
        role_services.publish(by=hr, version=draft, note="A window moved.", document_date=when.date())
        RoleProfileVersion.objects.filter(pk=draft.pk).update(published_at=when, created_at=when)
    versions = defaultdict(list)
    for version in (
        RoleProfileVersion.objects.filter(status=RoleProfileVersion.Status.PUBLISHED)
        .select_related("role_profile")
        .order_by("number")
    ):
        versions[version.role_profile.slug].append(version)
    return versions


# --- appraisals -----------------------------------------------------------------------------------


@dataclass
class _Context:
    hr: User
    competencies: dict  # {competency id: slug}
    measures: dict  # {version id: [measure id, ...]}
    history: dict  # {staff member id: {competency id: [Record, ...]}}
    first_year: int = 0  # of the completed cycles
    strengths: dict = field(default_factory=dict)  # {(staff member id, competency id): offset}


def _opened(period_end: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(period_end + datetime.timedelta(days=3), datetime.time(9)))


def _completed_cycle(
    year: int, people: list[Person], versions, context: _Context, rng: random.Random
) -> tuple[int, int]:
    period_end = datetime.date(year, 3, 31)
    opened = _opened(period_end)
    cycle = AppraisalCycle.objects.create(
        name=f"Annual appraisal {year}",
        period_start=datetime.date(year - 1, 4, 1),
        period_end=period_end,
        due_on=datetime.date(year, 6, 30),
        self_assessment=True,
        created_at=opened - datetime.timedelta(days=14),
        created_by=context.hr,
        opened_at=opened,
        opened_by=context.hr,
    )
    assignments = []
    for p in people:
        if p.kind in ("hr", "head") or not p.active_on(opened.date()):
            continue
        slug, manager = p.role_on(period_end), p.manager_on(period_end)
        if slug is None or manager is None or not manager.active_on(opened.date()):
            continue
        version = [v for v in versions[slug] if v.published_at and v.published_at <= opened][-1]
        assignments.append((p, manager, version))
    snapshots = cycles.window_snapshots({v.pk: v for _, _, v in assignments}.values())
    return _write(
        cycle, assignments, snapshots, {p.pk: State.COMPLETED for p, _, _ in assignments}, context, rng, opened
    )


def _open_cycle(year: int, people: list[Person], context: _Context, rng: random.Random) -> tuple[Counter, int]:
    """The current cycle, opened by `cycles.open_cycle` a month ago, then taken on through the workflow for most
    people."""
    period_end = datetime.date(year, 3, 31)
    cycle = cycles.create_cycle(
        by=context.hr,
        name=f"Annual appraisal {year}",
        period_start=datetime.date(year - 1, 4, 1),
        period_end=period_end,
        due_on=datetime.date(year, 6, 30),
        self_assessment=True,
    )
    cycles.open_cycle(by=context.hr, cycle=cycle)
    opened = timezone.now() - datetime.timedelta(days=30)
    AppraisalCycle.objects.filter(pk=cycle.pk).update(opened_at=opened, created_at=opened - datetime.timedelta(days=7))
    cycle.refresh_from_db()
    Appraisal.objects.filter(cycle=cycle).update(created_at=opened, updated_at=opened)
    AppraisalEvent.objects.filter(appraisal__cycle=cycle).update(at=opened)
    AuditEntry.objects.filter(action__in=["open", "create"], at__gte=opened).update(at=opened)
    by_pk = {p.pk: p for p in people}
    appraisals = list(Appraisal.objects.filter(cycle=cycle).select_related("role_version__role_profile"))
    states = {}
    choices, weights = zip(*OPEN_STATES, strict=True)
    for appraisal in appraisals:
        person = by_pk[appraisal.staff_member_id]
        states[person.pk] = State.MANAGER_REVIEW if person.username == "staff" else rng.choices(choices, weights)[0]
    moving = [a for a in appraisals if states[a.staff_member_id] != State.SELF_ASSESSMENT]
    ids = [a.pk for a in moving]
    # The opened records are rewritten as they now stand (the same way as the completed cycles').
    ScoredCompetency.objects.filter(appraisal_id__in=ids).delete()
    AppraisalEvent.objects.filter(appraisal_id__in=ids).delete()
    snapshots = cycles.window_snapshots({a.role_version_id: a.role_version for a in moving}.values())
    assignments = [(by_pk[a.staff_member_id], by_pk[a.appraiser_id], a.role_version) for a in moving]
    existing = {a.staff_member_id: a.pk for a in moving}
    _, ratings = _write(cycle, assignments, snapshots, states, context, rng, opened, existing=existing)
    counts = Counter(states.values())
    return Counter({state: counts.get(state, 0) for state in choices}), ratings


def _write(
    cycle, assignments, snapshots, states, context: _Context, rng: random.Random, opened, *, existing=None
) -> tuple[int, int]:
    """Write one cycle's appraisals (person, appraiser, version) in the state `states[person pk]`, with everything
    they hold."""
    period_end = cycle.period_end
    now = timezone.now() - datetime.timedelta(minutes=5)
    plans = []
    for person, manager, version in assignments:
        prng = random.Random(f"{person.username}{cycle.period_end.year}")
        state = states[person.pk]
        times = step_times(cycle, prng) if cycle.period_end < now.date() else _recent_schedule(opened, now, prng)
        scored = [ScoredCompetency(**row) for row in snapshots[version.pk]]
        rated = state != State.SELF_ASSESSMENT
        history = context.history[person.pk]
        targets = {c.competency_id: _target(person, c, cycle.period_end.year, context, prng) for c in scored}
        ratings = ratings_towards(scored, targets, prng) if rated else {}
        self_ratings = self_ratings_from(ratings, prng) if rated else {}
        overrides = {}
        for competency in scored:
            levels = [WindowLevel.from_snapshot(level) for level in competency.levels]
            marks = {i: r for i, (r, _) in ratings.items()}
            competency.derived_level = derive_level(
                levels, marks, period_end=period_end, history=history.get(competency.competency_id, [])
            )
            competency.self_level = derive_level(
                levels,
                {i: r for i, (r, _) in self_ratings.items()},
                period_end=period_end,
                history=history.get(competency.competency_id, []),
            )
            if rated and competency.derived_level is not None and prng.random() < 0.01:
                level = max(
                    competency.entry_level - 1,
                    min(competency.exceptional_level, competency.derived_level + prng.choice((-1, 1))),
                )
                if level != competency.derived_level:
                    competency.override_level = level
                    competency.override_reason = (
                        "Agreed at the meeting: the ratings do not reflect the whole year (see supervision notes)."
                    )
                    overrides[competency.competency_id] = level
        plans.append((person, manager, version, state, times, scored, ratings, self_ratings, prng))

    appraisals = []
    for person, manager, version, state, times, scored, _ratings, _self_ratings, prng in plans:
        done = _steps(state)
        band = _band(scored)
        appraisal = Appraisal(
            cycle=cycle,
            staff_member_id=person.pk,
            appraiser_id=manager.pk,
            role_version=version,
            state=state,
            revision=1 + len(done),
            created_at=opened,
            updated_at=times[done[-1]] if done else opened,
            updated_by_id=(
                manager.user_id if done and done[-1] in ("save review", "share", "countersign") else person.user_id
            )
            if done
            else context.hr.pk,
        )
        if "save self-assessment" in done:
            appraisal.self_assessment_comments = prng.choice(SELF_COMMENTS)
        if "save review" in done:
            appraisal.meeting_date = times["save review"].date()
            chosen = prng.sample(OBJECTIVES.get(version.role_profile.slug, []), 2) + prng.sample(
                OBJECTIVES["common"], 1
            )
            appraisal.objectives = "\n".join(f"{n}. {text}" for n, text in enumerate(chosen, 1))
            appraisal.development_plan = "\n".join(prng.sample(DEVELOPMENT, 2))
            appraisal.manager_comments = prng.choice(MANAGER_COMMENTS[band]).format(name=person.first)
        if "share" in done:
            appraisal.shared_at = times["share"]
        if "sign off" in done:
            disagrees = prng.random() < DISAGREEING  # countersigned noting it, as most disagreements end
            appraisal.staff_agrees = not disagrees
            appraisal.staff_comments = prng.choice(list(DISAGREEMENTS.values()) if disagrees else SIGN_OFF_COMMENTS)
            appraisal.signed_off_at, appraisal.signed_off_by_id = times["sign off"], person.user_id
        if "countersign" in done:
            appraisal.countersign_comments = (
                f"Countersigned, noting {person.first}'s disagreement: we have discussed it and I stand by the levels."
                if appraisal.staff_agrees is False
                else prng.choice(COUNTERSIGN_COMMENTS).format(name=person.first)
            )
            appraisal.countersigned_at = appraisal.completed_at = times["countersign"]
            appraisal.countersigned_by_id = manager.user_id
        appraisals.append(appraisal)
    record_history = existing is None  # a completed cycle, not the open one (whose records exist already)
    if existing is not None:
        for appraisal in appraisals:
            appraisal.pk = existing[appraisal.staff_member_id]
        Appraisal.objects.bulk_update(appraisals, UPDATED_FIELDS, batch_size=500)
    else:
        Appraisal.objects.bulk_create(appraisals, batch_size=BATCH)
    if appraisals and appraisals[0].pk is None:
        by_person = dict(Appraisal.objects.filter(cycle=cycle).values_list("staff_member_id", "pk"))
        for appraisal in appraisals:
            appraisal.pk = by_person[appraisal.staff_member_id]

    all_scored = []
    for appraisal, plan in zip(appraisals, plans, strict=True):
        for competency in plan[5]:
            competency.appraisal_id = appraisal.pk
            all_scored.append(competency)
    ScoredCompetency.objects.bulk_create(all_scored, batch_size=BATCH)
    if all_scored and all_scored[0].pk is None:
        ids = {
            (a, c): pk
            for a, c, pk in ScoredCompetency.objects.filter(appraisal__cycle=cycle).values_list(
                "appraisal_id", "competency_id", "pk"
            )
        }
        for competency in all_scored:
            competency.pk = ids[competency.appraisal_id, competency.competency_id]

    rating_rows, reviews, events, entries = [], [], [], []
    for appraisal, (person, manager, version, state, times, scored, ratings, self_ratings, prng) in zip(
        appraisals, plans, strict=True
    ):
        owner = {i: c.pk for c in scored for level in c.levels for i in level.get("indicators") or ()}
        for indicator_id, (rating, evidence) in ratings.items():
            own, own_evidence = self_ratings.get(indicator_id, ("", ""))
            rating_rows.append(
                IndicatorRating(
                    scored_competency_id=owner[indicator_id],
                    indicator_id=indicator_id,
                    rating=rating,
                    evidence=evidence,
                    self_rating=own,
                    self_evidence=own_evidence,
                )
            )
        done = _steps(state)
        if "save review" in done:
            reviews += [
                MeasureReview(appraisal_id=appraisal.pk, measure_id=pk, comment=prng.choice(MEASURE_COMMENTS))
                for pk in context.measures[version.pk]
                if prng.random() < 0.4
            ]
        events += _events(appraisal, person, manager, opened, times, done, context)
        entries += _audit_entries(
            appraisal,
            person,
            manager,
            version,
            cycle,
            opened,
            times,
            done,
            scored,
            ratings,
            context,
            with_open=record_history,
        )
        if record_history:
            for competency in scored:
                context.history[person.pk][competency.competency_id].append(
                    Record(period_end, competency.achieved_level)
                )
    IndicatorRating.objects.bulk_create(rating_rows, batch_size=BATCH)
    MeasureReview.objects.bulk_create(reviews, batch_size=BATCH)
    AppraisalEvent.objects.bulk_create(events, batch_size=BATCH)
    if record_history:
        entries.append(
            AuditEntry(
                at=opened,
                actor=context.hr,
                action="open",
                object_type="appraisal cycle",
                object_id=str(cycle.pk),
                object_repr=cycle.name,
                changes={"appraisals created": len(appraisals), "not appraised": []},
            )
        )
    AuditEntry.objects.bulk_create(entries, batch_size=BATCH)
    return len(appraisals), len(rating_rows)


UPDATED_FIELDS = [
    "state",
    "revision",
    "updated_at",
    "updated_by",
    "self_assessment_comments",
    "meeting_date",
    "objectives",
    "development_plan",
    "manager_comments",
    "shared_at",
    "staff_agrees",
    "staff_comments",
    "signed_off_at",
    "signed_off_by",
    "countersign_comments",
    "countersigned_at",
    "countersigned_by",
    "completed_at",
]
STEPS = ["save self-assessment", "submit self-assessment", "save review", "share", "sign off", "countersign"]
STEPS_DONE = {
    State.SELF_ASSESSMENT: 0,
    State.MANAGER_REVIEW: 3,
    State.AWAITING_SIGN_OFF: 4,
    State.AWAITING_COUNTERSIGN: 5,
    State.COMPLETED: 6,
}
EVENT_STATES = {
    "submit self-assessment": (State.SELF_ASSESSMENT, State.MANAGER_REVIEW),
    "share": (State.MANAGER_REVIEW, State.AWAITING_SIGN_OFF),
    "sign off": (State.AWAITING_SIGN_OFF, State.AWAITING_COUNTERSIGN),
    "countersign": (State.AWAITING_COUNTERSIGN, State.COMPLETED),
}


def _steps(state) -> list[str]:
    return STEPS[: STEPS_DONE[state]]


def _recent_schedule(opened, now, rng: random.Random) -> dict:
    """Step times for the open cycle: between its opening and now, in order."""
    span = max((now - opened).total_seconds(), 600)
    moments = sorted(opened + datetime.timedelta(seconds=rng.uniform(60, span)) for _ in STEPS)
    return dict(zip(STEPS, moments, strict=True))


def _target(person: Person, competency: ScoredCompetency, year: int, context: _Context, rng: random.Random) -> int:
    """The level the ratings will show: mostly Desired, rising over the years for many, with the person's strengths
    and some noise."""
    key = (person.pk, competency.competency_id)
    if key not in context.strengths:
        context.strengths[key] = random.Random(f"{person.username}{competency.competency_id}").gauss(0, 0.45)
    years = max(0, year - max(person.start.year + 1, context.first_year))
    drift = person.offset + person.growth * years + context.strengths[key] + rng.gauss(0, 0.35)
    level = competency.desired_level + (1 if drift > 0.75 else -1 if drift < -0.6 else 0)
    top = max((lv["number"] for lv in competency.levels if lv["indicators"]), default=competency.entry_level)
    return min(level, top)


def _band(scored) -> str:
    levels = [c.achieved_level - c.desired_level for c in scored if c.achieved_level is not None]
    mean = sum(levels) / len(levels) if levels else 0
    return "strong" if mean >= 0.3 else "developing" if mean <= -0.3 else "solid"


def _events(appraisal, person, manager, opened, times, done, context) -> list[AppraisalEvent]:
    events = [
        AppraisalEvent(
            appraisal_id=appraisal.pk, at=opened, by=context.hr, action="open", to_state=State.SELF_ASSESSMENT
        )
    ]
    for action in done:
        if action in EVENT_STATES:
            before, after = EVENT_STATES[action]
            by = manager.user_id if action in ("share", "countersign") else person.user_id
            comment = (
                appraisal.staff_comments
                if action == "sign off"
                else appraisal.countersign_comments
                if action == "countersign"
                else ""
            )
            events.append(
                AppraisalEvent(
                    appraisal_id=appraisal.pk,
                    at=times[action],
                    by_id=by,
                    action=_as_recorded(action, appraisal),
                    from_state=before,
                    to_state=after,
                    comment=comment,
                )
            )
    return events


def _as_recorded(action: str, appraisal) -> str:
    """The step's name as the workflow records it: a sign-off and countersignature of a disagreement say so."""
    if action == "sign off":
        return workflow.sign_off_action(appraisal.staff_agrees is not False)
    if action == "countersign":
        return workflow.countersign_action(appraisal.staff_agrees)
    return action


def _audit_entries(
    appraisal, person, manager, version, cycle, opened, times, done, scored, ratings, context, *, with_open
) -> list[AuditEntry]:
    """One entry per step, as the services write them (a summary of the ratings rather than one line per indicator)."""
    about = {
        "object_type": "appraisal",
        "object_id": str(appraisal.pk),
        "object_repr": f"{person.name} – {cycle.name}",
        "person_id": person.pk,
    }
    entries = []
    if with_open:
        entries.append(
            AuditEntry(
                at=opened,
                actor=context.hr,
                action="open",
                changes={
                    "state": [None, State.SELF_ASSESSMENT.label],
                    "appraiser": [None, manager.name],
                    "role profile version": [None, str(version)],
                },
                **about,
            )
        )
    for action in done:
        by = manager.user_id if action in ("save review", "share", "countersign") else person.user_id
        if action == "save self-assessment":
            changes = {
                "self-assessment": f"{len(ratings)} indicators rated",
                "Comments on the year": ["", appraisal.self_assessment_comments],
            }
        elif action == "save review":
            changes = {
                "ratings": f"{len(ratings)} indicators rated",
                "meeting_date": [None, str(appraisal.meeting_date)],
            }
            changes.update(
                {f"{c.name}: derived level": ["Not yet scored", c.level_label(c.derived_level)] for c in scored}
            )
        else:
            before, after = EVENT_STATES[action]
            changes = {"state": [State(before).label, State(after).label]}
            if action == "sign off":
                changes["staff comments"] = ["", appraisal.staff_comments]
        entries.append(
            AuditEntry(at=times[action], actor_id=by, action=_as_recorded(action, appraisal), changes=changes, **about)
        )
    return entries
