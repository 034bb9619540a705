"""Where people stand against their role's window: the heatmap of roles × competencies, and the list
of people below Entry, over the cycle's completed appraisals."""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Sum
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString

from appraisal.models import DevelopmentNeed, StandingTally
from appraisal.rules import STANDING_LABELS, STANDINGS_IN_ORDER, Standing
from core.links import url_for
from reports.selectors.filters import NO_SERVICE, Paged, ReportFilters, blank_if_none, percent
from roles.models import RoleProfile
from roles.selectors import current_title
from staff.models import display_name

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

    @property
    def below_entry(self) -> int:
        """How many competencies stand below entry: as many as `below_entry` lists (the same records)."""
        return sum(cell.below_entry for row in self.rows for cell in row.cells if cell is not None)


def heat_step_ranges() -> list[dict[str, Any]]:
    """The legend: each shade's step and the range of % at Desired or above it stands for."""
    width = 100 // HEAT_STEPS
    return [
        {"step": step, "low": step * width, "high": 100 if step == HEAT_STEPS - 1 else (step + 1) * width - 1}
        for step in range(HEAT_STEPS)
    ]


def standing_heatmap(filters: ReportFilters, *, titles: dict[int, str] | None = None) -> Heatmap:
    """Completed appraisals of the cycle: people per role profile, competency and standing (two queries; one
    when the role profiles' `titles` are given, {id: current title}, as the filters list them).

    Competencies in framework order, named as the framework names them now; role profiles by their
    current title.
    """
    counts: Counter[tuple[int, int, str]] = Counter()  # (role profile, competency, standing): competencies
    competencies: dict[int, tuple[int, str]] = {}  # competency id: its place in the framework and name now
    for role_id, competency_id, position, name, standing, count in (
        StandingTally.objects.filter(filters.standing_q())
        .values_list("role_profile_id", "competency_id", "competency__position", "competency__name", "standing")
        .annotate(competencies=Sum("count"))
        .order_by()
    ):
        counts[role_id, competency_id, standing] += count
        competencies[competency_id] = (position, name)
    for key, count in filters.excluded.standing.items():
        if filters.matches_standing(key):
            counts[key[2], key[3], key[4]] -= count
    # The titles in a second query: every role profile's, a handful (the same queries whatever the filters).
    if titles is None:
        titles = dict(RoleProfile.objects.annotate(title=current_title()).values_list("pk", "title"))
    cells: dict[tuple[int, int], StandingCell] = {}
    roles: dict[int, str] = {}
    for (role_id, competency_id, standing), count in counts.items():
        if count <= 0 or Standing(standing) not in STANDINGS_IN_ORDER:
            continue
        cell = cells.setdefault((role_id, competency_id), StandingCell())
        cell.counts[Standing(standing)] = cell.counts.get(Standing(standing), 0) + count
        roles[role_id] = titles.get(role_id) or f"Role profile {role_id}"
    competencies = {pk: place for pk, place in competencies.items() if any(key[1] == pk for key in cells)}
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


_CELL = (
    '        <td class="heat heat-{}">\n'
    '          <span class="heat-percent">{}%</span><span class="visually-hidden"> at Desired or above,</span>\n'
    '          <span class="heat-people">{} {}</span>\n'
    "          {}\n"
    '          <span class="visually-hidden">. {}.</span>\n'
    "        </td>"
)
_NOT_REQUIRED = (
    '        <td class="heat heat-none"><span aria-hidden="true">—</span>'
    '<span class="visually-hidden">not in this role</span></td>'
)


def heatmap_rows_html(heatmap: Heatmap) -> SafeString:
    """The heatmap's table rows, built here rather than cell by cell in the template (five role profiles by
    eleven competencies, each cell with its breakdown for screen readers): the names are escaped, the rest
    are numbers and the standings' labels."""
    rows = []
    for row in heatmap.rows:
        cells = []
        for cell in row.cells:
            if cell is None:
                cells.append(_NOT_REQUIRED)
                continue
            below = (
                format_html(
                    '<span class="heat-below"><span aria-hidden="true">▼</span> {} below entry</span>', cell.below_entry
                )
                if cell.below_entry
                else ""
            )
            breakdown = "; ".join(f"{item['label']}: {item['count']}" for item in cell.breakdown)
            cells.append(
                format_html(
                    _CELL,
                    cell.step,
                    cell.desired_or_above_percent,
                    cell.people,
                    "person" if cell.people == 1 else "people",
                    below,
                    breakdown,
                )
            )
        rows.append(
            format_html(
                '      <tr>\n        <th scope="row">{}</th>\n{}\n      </tr>', row.name, SafeString("\n".join(cells))
            )
        )
    return SafeString("\n".join(rows))


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


class BelowEntry(Paged[BelowEntryRow]):
    """Completed appraisals of the cycle: each competency scored below entry (development needs), by the
    person's name (`staff.models.name_order`), then the record and the competency's place in it; read a page
    at a time (`Paginator` asks `count()` and a slice, one query each) or whole (iterated, for the download).

    From the cycle's development needs, kept with its completed records (`appraisal.tallies`) in this order:
    a page is read through their index, which stops at the page's end, rather than every competency the
    cycle's records scored, or every development need's names, being sorted."""

    def __init__(self, filters: ReportFilters, *, count: int | None = None):
        self._count = count  # known already: `Heatmap.below_entry`, from the same records
        self.values = (
            DevelopmentNeed.objects.filter(cycle=filters.cycle)
            .filter(filters.appraisal_q("appraisal__", cycle=False))
            .annotate(achieved=Coalesce("scored_competency__override_level", "scored_competency__derived_level"))
            .order_by("person_order", "appraisal_id", "position")
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
                "scored_competency__name",
                "achieved",
                "scored_competency__entry_level",
            )
        )

    def count(self) -> int:
        return self._count if self._count is not None else self.values.count()  # `Paginator` keeps it

    def rows(self, page: slice) -> list[BelowEntryRow]:
        return [_below_entry_row(*values) for values in self.values[page]]


def _below_entry_row(
    appraisal_id, member_id, username, first, last, service, role, a_first, a_last, a_username, name, achieved, entry
) -> BelowEntryRow:
    return BelowEntryRow(
        appraisal_id=appraisal_id,
        staff_member_id=member_id,
        username=username,
        person=display_name(first, last, username),
        service=service or NO_SERVICE,
        role=role,
        appraiser=display_name(a_first, a_last, a_username),
        competency=name,
        achieved_level=achieved,
        entry_level=entry,
    )


def below_entry(filters: ReportFilters, *, count: int | None = None) -> BelowEntry:
    """The cycle's competencies scored below entry (`BelowEntry`): a page of them, or all, one query; with
    their `count` when it is known (the heatmap's), none to count them."""
    return BelowEntry(filters, count=count)


def below_entry_rows_html(rows: Iterable[BelowEntryRow]) -> SafeString:
    """The rows of the page's table of staff below entry (built here rather than cell by cell in the template):
    the names escaped, the levels integers, the links made once (`url_for`)."""
    history, record = url_for("person_history"), url_for("appraisal")
    html = []
    for row in rows:
        person = escape(row.person)
        html.append(
            f'      <tr>\n        <th scope="row"><a href="{history(row.staff_member_id)}">{person}</a></th>\n'
            f"        <td>{escape(row.service)}</td>\n        <td>{escape(row.role)}</td>\n"
            f"        <td>{escape(row.appraiser)}</td>\n        <td>{escape(row.competency)}</td>\n"
            f'        <td class="text-end">{int(row.achieved_level)}</td>\n'
            f'        <td class="text-end">{int(row.entry_level)}</td>\n'
            f'        <td><a href="{record(row.appraisal_id)}">Appraisal<span class="visually-hidden"> of {person}'
            "</span></a></td>\n      </tr>"
        )
    return SafeString("\n".join(html))


def below_entry_csv_rows(filters: ReportFilters, rows: Iterable[BelowEntryRow]) -> list[list[Any]]:
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
