"""Where people stand against their role's window: the heatmap of roles × competencies, and the list
of people below Entry, over the cycle's completed appraisals."""

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count
from django.urls import reverse

from appraisal.models import ScoredCompetency
from appraisal.rules import STANDING_LABELS, STANDINGS_IN_ORDER, Standing
from reports.selectors.filters import NO_SERVICE, ReportFilters, State, blank_if_none, full_name, percent
from roles.models import RoleProfile
from roles.selectors import current_title

# Standings that count as "at Desired or above" in the heatmap.
DESIRED_OR_ABOVE = (Standing.DESIRED, Standing.EXCEPTIONAL, Standing.ABOVE)
# The heatmap's shading: five equal steps of the % at Desired or above (0–19, 20–39, … 80–100).
HEAT_STEPS = 5

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
                    blank_if_none(cell.desired_or_above_percent),
                ]
            )
    return out


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
            person=full_name(first, last, username),
            service=service or NO_SERVICE,
            role=role,
            appraiser=full_name(a_first, a_last, a_username),
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
