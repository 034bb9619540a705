"""Organisation reports for HR admins: reads only, one selector per section of /reports/.

Each selector takes `ReportFilters` (one opened cycle, optionally a service and a role profile)
and runs a fixed number of queries, however many people, cycles or competencies there are. The
page and its CSV downloads are drawn from the same selector, so they always agree.

Basis:
- progress (`progress_by_state`, `progress_by`): every appraisal of the cycle, in any state;
- standing and below entry (`standing_heatmap`, `below_entry`): the scored competencies of the
  cycle's COMPLETED appraisals only (a record still being scored may change).
The service filter is the person's current service (`StaffMember.service`); the role filter is
the role profile of the version the appraisal was opened against.
"""

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.db.models import Count, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from appraisal.models import Appraisal, AppraisalCycle, ScoredCompetency
from appraisal.rules import STANDING_LABELS, STANDINGS_IN_ORDER, Standing
from roles.models import RoleProfile
from roles.selectors import current_title
from staff.models import Service

State = Appraisal.State
STATES_IN_ORDER = tuple(State)  # the workflow order: self-assessment first, completed last

# Standings that count as "at Desired or above" in the heatmap.
DESIRED_OR_ABOVE = (Standing.DESIRED, Standing.EXCEPTIONAL, Standing.ABOVE)
# The heatmap's shading: five equal steps of the % at Desired or above (0–19, 20–39, … 80–100).
HEAT_STEPS = 5

NO_SERVICE = "No service"
PROGRESS_GROUPS = ("service", "manager")

# CSV columns, one constant per download (tests and docs/appraisals.md use them).
PROGRESS_BY_STATE_COLUMNS = ["cycle", "state", "appraisals"]
# The by-state CSV ends with these two rows after the five states: "total" (all appraisals) and
# "overdue" (not completed, past the cycle's due date; a subset of the states above, not added in).
PROGRESS_TOTAL_ROWS = ("total", "overdue")
PROGRESS_BY_COLUMNS = {
    group: ["cycle", group, *[state.value for state in STATES_IN_ORDER], "total", "overdue", "completed_percent"]
    for group in PROGRESS_GROUPS
}
STANDING_COLUMNS = [
    "cycle",
    "role_profile",
    "competency",
    "people",
    "below_entry",
    "entry",
    "desired",
    "exceptional",
    "above_window",
    "desired_or_above_percent",
]
BELOW_ENTRY_COLUMNS = [
    "cycle",
    "appraisal_id",
    "username",
    "person",
    "service",
    "role_profile",
    "appraiser",
    "competency",
    "achieved_level",
    "entry_level",
]


def percent(part: int, whole: int) -> int | None:
    """`part` of `whole` as a whole percentage, rounded half up; None when `whole` is 0.

    Never 100 unless all, never 0 unless none: 199 of 200 reads 99%, not 100%.
    """
    if not whole:
        return None
    value = (200 * part + whole) // (2 * whole)
    if part < whole:
        value = min(value, 99)
    if part > 0:
        value = max(value, 1)
    return value


def _full_name(first: str, last: str, username: str) -> str:
    return f"{first} {last}".strip() or username


# --- filters --------------------------------------------------------------------------------------


def opened_cycles() -> QuerySet[AppraisalCycle]:
    """Cycles that have been opened, the latest period first (the first is the report's default)."""
    return AppraisalCycle.objects.filter(opened_at__isnull=False).order_by("-period_end", "name")


def reportable_role_profiles() -> QuerySet[RoleProfile]:
    """Role profiles with a published version, annotated `current_title` and ordered by it (one query)."""
    return (
        RoleProfile.objects.annotate(current_title=current_title())
        .filter(current_title__isnull=False)
        .order_by("current_title", "slug")
    )


@dataclass(frozen=True)
class ReportFilters:
    cycle: AppraisalCycle
    service: Service | None = None
    role_profile: RoleProfile | None = None
    # People whose records the viewer may not oversee: an HR admin's own and those above them
    # (`staff.access.hr_conflicts`). Left out of every section; not part of the query string.
    excluded_people: frozenset[int] = frozenset()

    def appraisal_q(self, prefix: str = "") -> Q:
        """The filters as a Q on Appraisal, or on a model reaching it through `prefix` ("appraisal__")."""
        q = Q(**{f"{prefix}cycle": self.cycle})
        if self.service is not None:
            q &= Q(**{f"{prefix}staff_member__service": self.service})
        if self.role_profile is not None:
            q &= Q(**{f"{prefix}role_version__role_profile": self.role_profile})
        if self.excluded_people:
            q &= ~Q(**{f"{prefix}staff_member_id__in": self.excluded_people})
        return q

    @property
    def query_string(self) -> str:
        """The filters as the page's query string (for links to the CSV downloads)."""
        params = {"cycle": self.cycle.pk}
        if self.service is not None:
            params["service"] = self.service.pk
        if self.role_profile is not None:
            params["role"] = self.role_profile.pk
        return urlencode(params)


# --- progress -------------------------------------------------------------------------------------


@dataclass
class Progress:
    """Counts of appraisals by state, with the total, the overdue and the % completed."""

    label: str = ""
    counts: dict[str, int] = field(default_factory=lambda: {state.value: 0 for state in STATES_IN_ORDER})
    overdue: int = 0

    def add(self, state: str, count: int, overdue: int) -> None:
        self.counts[state] = self.counts.get(state, 0) + count
        self.overdue += overdue

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def completed(self) -> int:
        return self.counts[State.COMPLETED.value]

    @property
    def completed_percent(self) -> int | None:
        return percent(self.completed, self.total)

    @property
    def states(self) -> list[dict[str, Any]]:
        """Each state in workflow order: {"state", "count", "percent"} (percent of the total, for the bar)."""
        total = self.total
        return [
            {
                "state": state,
                "count": self.counts[state.value],
                "percent": 100 * self.counts[state.value] / total if total else 0,
            }
            for state in STATES_IN_ORDER
        ]


def _progress_rows(filters: ReportFilters, *group_fields: str) -> QuerySet[Appraisal, dict[str, Any]]:
    """One aggregated query: appraisals counted by `group_fields` and state, with the overdue ones."""
    today = timezone.localdate()
    overdue = Count("pk", filter=~Q(state=State.COMPLETED) & Q(cycle__due_on__lt=today))
    rows: QuerySet[Appraisal, dict[str, Any]] = (
        Appraisal.objects.filter(filters.appraisal_q())
        .values(*group_fields, "state")
        .annotate(appraisals=Count("pk"), overdue=overdue)
        .order_by()
    )
    return rows


def progress_by_state(filters: ReportFilters) -> Progress:
    """The cycle's appraisals by state (one query)."""
    progress = Progress(label=filters.cycle.name)
    for row in _progress_rows(filters):
        progress.add(row["state"], row["appraisals"], row["overdue"])
    return progress


def progress_by(filters: ReportFilters, group: str) -> list[Progress]:
    """The cycle's appraisals by state for each service ("No service" last) or each appraiser (one query).

    Services are the people's current services; managers are the appraisers, by last name.
    """
    fields: tuple[str, ...]
    if group == "service":
        fields = ("staff_member__service_id", "staff_member__service__name")
    elif group == "manager":
        fields = (
            "appraiser_id",
            "appraiser__user__first_name",
            "appraiser__user__last_name",
            "appraiser__user__username",
        )
    else:
        raise ValueError(f"group must be one of {PROGRESS_GROUPS}, not {group!r}")
    groups: dict[object, Progress] = {}
    sort_keys: dict[object, tuple[Any, ...]] = {}
    for row in _progress_rows(filters, *fields):
        if group == "service":
            key, name = row["staff_member__service_id"], row["staff_member__service__name"]
            label = name or NO_SERVICE
            sort_keys[key] = (name is None, (name or "").casefold())
        else:
            key = row["appraiser_id"]
            first, last, username = (
                row["appraiser__user__first_name"],
                row["appraiser__user__last_name"],
                row["appraiser__user__username"],
            )
            label = _full_name(first, last, username)
            sort_keys[key] = ((last or username).casefold(), first.casefold(), key)
        groups.setdefault(key, Progress(label=label)).add(row["state"], row["appraisals"], row["overdue"])
    return [groups[key] for key in sorted(groups, key=sort_keys.__getitem__)]


def progress_state_csv_rows(filters: ReportFilters, progress: Progress) -> list[list[Any]]:
    rows = [[filters.cycle.name, state.value, progress.counts[state.value]] for state in STATES_IN_ORDER]
    rows.append([filters.cycle.name, "total", progress.total])
    rows.append([filters.cycle.name, "overdue", progress.overdue])
    return rows


def progress_by_csv_rows(filters: ReportFilters, groups: list[Progress]) -> list[list[Any]]:
    return [
        [
            filters.cycle.name,
            group.label,
            *[group.counts[state.value] for state in STATES_IN_ORDER],
            group.total,
            group.overdue,
            _blank_if_none(group.completed_percent),
        ]
        for group in groups
    ]


def _blank_if_none(value: int | None) -> int | str:
    return "" if value is None else value


# --- standing against the window ------------------------------------------------------------------


@dataclass
class StandingCell:
    """How the people of one role stand in one competency."""

    counts: dict[Standing, int] = field(default_factory=dict)

    @property
    def people(self) -> int:
        return sum(self.counts.get(standing, 0) for standing in STANDINGS_IN_ORDER)

    @property
    def below_entry(self) -> int:
        return self.counts.get(Standing.BELOW_ENTRY, 0)

    @property
    def desired_or_above(self) -> int:
        return sum(self.counts.get(standing, 0) for standing in DESIRED_OR_ABOVE)

    @property
    def desired_or_above_percent(self) -> int | None:
        return percent(self.desired_or_above, self.people)

    @property
    def step(self) -> int:
        """The shade, 0 (lightest: under 20% at Desired or above) to 4 (80% or more), from the exact ratio."""
        if not self.people:
            return 0
        return min(HEAT_STEPS - 1, HEAT_STEPS * self.desired_or_above // self.people)

    @property
    def breakdown(self) -> list[dict[str, Any]]:
        """{"standing", "label", "count"} for each standing, worst to best."""
        return [
            {"standing": s, "label": STANDING_LABELS[s], "count": self.counts.get(s, 0)} for s in STANDINGS_IN_ORDER
        ]


@dataclass
class HeatmapRow:
    competency_id: int
    name: str
    cells: list[StandingCell | None]  # one per role column; None: the role does not require it


@dataclass
class Heatmap:
    roles: list[dict[str, Any]]  # {"id", "title"} in column order
    rows: list[HeatmapRow]

    @property
    def is_empty(self) -> bool:
        return not self.rows


def heat_step_ranges() -> list[dict[str, Any]]:
    """The legend: each shade's step and the range of % at Desired or above it stands for."""
    width = 100 // HEAT_STEPS
    return [
        {"step": step, "low": step * width, "high": 100 if step == HEAT_STEPS - 1 else (step + 1) * width - 1}
        for step in range(HEAT_STEPS)
    ]


def standing_heatmap(filters: ReportFilters) -> Heatmap:
    """Completed appraisals of the cycle: people per role profile, competency and standing (two queries).

    Competencies in framework order, named as the framework names them now; role profiles by their
    current title.
    """
    rows = (
        ScoredCompetency.objects.with_standing()
        .filter(filters.appraisal_q("appraisal__"), appraisal__state=State.COMPLETED)
        .values(
            "appraisal__role_version__role_profile_id",
            "competency_id",
            "competency__name",
            "competency__position",
            "standing",
        )
        .annotate(people=Count("pk"))
        .order_by()
    )
    rows = list(rows)
    # The titles in a second query: grouped by a title subquery, the database would run it for every scored competency.
    # (Every role profile's, a handful: the page runs the same queries whatever the filters.)
    titles = dict(RoleProfile.objects.annotate(title=current_title()).values_list("pk", "title"))
    cells: dict[tuple[int, int], StandingCell] = {}
    competencies: dict[int, tuple[int, str]] = {}
    roles: dict[int, str] = {}
    for row in rows:
        standing = Standing(row["standing"])
        if standing not in STANDINGS_IN_ORDER:
            continue  # not scored: cannot happen in a completed record, and says nothing about standing
        role_id = row["appraisal__role_version__role_profile_id"]
        cell = cells.setdefault((role_id, row["competency_id"]), StandingCell())
        cell.counts[standing] = cell.counts.get(standing, 0) + row["people"]
        competencies[row["competency_id"]] = (row["competency__position"], row["competency__name"])
        roles[role_id] = titles.get(role_id) or f"Role profile {role_id}"
    columns: list[dict[str, Any]] = [
        {"id": role_id, "title": title}
        for role_id, title in sorted(roles.items(), key=lambda item: (item[1].casefold(), item[0]))
    ]
    heat_rows = [
        HeatmapRow(
            competency_id=competency_id, name=name, cells=[cells.get((role["id"], competency_id)) for role in columns]
        )
        for competency_id, (_, name) in sorted(competencies.items(), key=lambda item: (item[1][0], item[0]))
    ]
    return Heatmap(roles=columns, rows=heat_rows)


def standing_csv_rows(filters: ReportFilters, heatmap: Heatmap) -> list[list[Any]]:
    """One row per role profile and competency it requires: role profiles in column order, then framework order."""
    out: list[list[Any]] = []
    for index, role in enumerate(heatmap.roles):
        for row in heatmap.rows:
            cell = row.cells[index]
            if cell is None:
                continue
            out.append(
                [
                    filters.cycle.name,
                    role["title"],
                    row.name,
                    cell.people,
                    *[cell.counts.get(standing, 0) for standing in STANDINGS_IN_ORDER],
                    _blank_if_none(cell.desired_or_above_percent),
                ]
            )
    return out


# --- below entry ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BelowEntryRow:
    appraisal_id: int
    staff_member_id: int
    username: str
    person: str
    service: str
    role: str
    appraiser: str
    competency: str
    achieved_level: int
    entry_level: int

    @property
    def history_url(self) -> str:
        return reverse("person_history", args=[self.staff_member_id])

    @property
    def appraisal_url(self) -> str:
        return reverse("appraisal", args=[self.appraisal_id])


def below_entry(filters: ReportFilters) -> list[BelowEntryRow]:
    """Completed appraisals of the cycle: each competency scored below entry (development needs), one query.

    Ordered by the person's last name, first name, then the competency's framework position.
    """
    rows = (
        ScoredCompetency.objects.with_standing()
        .filter(
            filters.appraisal_q("appraisal__"), appraisal__state=State.COMPLETED, standing=Standing.BELOW_ENTRY.value
        )
        .order_by(
            "appraisal__staff_member__user__last_name",
            "appraisal__staff_member__user__first_name",
            "appraisal_id",
            "competency__position",
            "position",
        )
        .values_list(
            "appraisal_id",
            "appraisal__staff_member_id",
            "appraisal__staff_member__user__username",
            "appraisal__staff_member__user__first_name",
            "appraisal__staff_member__user__last_name",
            "appraisal__staff_member__service__name",
            "appraisal__role_version__title",
            "appraisal__appraiser__user__first_name",
            "appraisal__appraiser__user__last_name",
            "appraisal__appraiser__user__username",
            "name",
            "achieved",
            "entry_level",
        )
    )
    return [
        BelowEntryRow(
            appraisal_id=appraisal_id,
            staff_member_id=member_id,
            username=username,
            person=_full_name(first, last, username),
            service=service or NO_SERVICE,
            role=role,
            appraiser=_full_name(a_first, a_last, a_username),
            competency=name,
            achieved_level=achieved,
            entry_level=entry,
        )
        for (
            appraisal_id,
            member_id,
            username,
            first,
            last,
            service,
            role,
            a_first,
            a_last,
            a_username,
            name,
            achieved,
            entry,
        ) in rows
    ]


def below_entry_csv_rows(filters: ReportFilters, rows: list[BelowEntryRow]) -> list[list[Any]]:
    return [
        [
            filters.cycle.name,
            row.appraisal_id,
            row.username,
            row.person,
            row.service,
            row.role,
            row.appraiser,
            row.competency,
            row.achieved_level,
            row.entry_level,
        ]
        for row in rows
    ]
