"""The line manager's team page: where each report's appraisal stands in a cycle, and a grid of
each person's latest achieved levels against their current role's window. A fixed number of
queries whatever the size of the team."""

import functools
from dataclasses import dataclass, field
from typing import cast

from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from appraisal.models import Appraisal, AppraisalCycle, ScoredCompetency
from appraisal.rules import Standing, final_level, standing
from competencies.models import Competency
from roles.models import RoleRequirement
from staff.hierarchy import reports_in_line
from staff.models import StaffMember

DIRECT, LINE = "direct", "line"
# A grid cell's content: outside the role, not appraised yet, or the level and its standing.
NOT_IN_ROLE = (
    '<span aria-hidden="true" class="text-body-secondary">—</span><span class="visually-hidden">{words}</span>'
)
NOT_APPRAISED = '<span class="standing standing-not_scored">{words}</span>'
APPRAISED = '<span class="standing standing-{standing}"><span class="standing-level">{level}</span> {words}</span>'


@dataclass
class Cell:
    """One person × competency of the grid."""

    required: bool
    entry_level: int | None = None
    level: int | None = None

    @property
    def standing(self) -> Standing:
        if not self.required:
            return Standing.NOT_SCORED
        # Never None here: a cell is required because the role gives the competency an entry level.
        return standing(self.level, cast(int, self.entry_level))

    @property
    def level_text(self) -> str:
        """The level as shown: below entry of a window that starts at 1 is recorded as 0."""
        return "<1" if self.level is not None and self.level < 1 else str(self.level)

    @property
    def words(self) -> str:
        if not self.required:
            return "Not in the role"
        if self.level is None:
            return "Not appraised yet"
        return self.standing.label

    @property
    def html(self) -> SafeString:
        """The cell's content (the code's own words and numbers)."""
        if not self.required:
            return format_html(NOT_IN_ROLE, words=self.words)
        if self.level is None:
            return format_html(NOT_APPRAISED, words="Not appraised")
        return format_html(APPRAISED, standing=self.standing.value, level=self.level_text, words=self.words)


@functools.lru_cache(maxsize=256)
def _grid_cell(required: bool, entry_level: int | None, level: int | None) -> SafeString:
    """A grid cell, `<td>` and all. A grid of thousands of cells holds a few dozen different ones."""
    return format_html("<td>{}</td>", Cell(required=required, entry_level=entry_level, level=level).html)


@dataclass
class Member:
    person: StaffMember
    direct: bool = True  # a direct report (else further down the line)
    appraisal: Appraisal | None = None
    role_title: str = ""
    latest_cycle: str = ""  # the cycle of the latest completed appraisal, which the grid shows
    cells: list[Cell] = field(default_factory=list)

    @property
    def cells_html(self) -> str:
        """The grid row's cells. Built here rather than in the template: a head of service's whole
        line is a grid of a few thousand cells, and the template engine took most of the page's time."""
        return SafeString(
            "".join(_grid_cell(cell.required, cell.entry_level, cell.level) for cell in self.cells)
        )  # from format_html

    @property
    def days_overdue(self) -> int:
        if self.appraisal is None or not self.appraisal.is_overdue:
            return 0
        return (timezone.localdate() - self.appraisal.cycle.due_on).days

    @property
    def below_entry(self) -> int:
        return sum(1 for cell in self.cells if cell.standing == Standing.BELOW_ENTRY)


@dataclass
class Team:
    manager: StaffMember
    scope: str
    cycle: AppraisalCycle | None
    cycles: list[AppraisalCycle]
    members: list[Member]
    competencies: list[Competency]
    direct_count: int
    line_count: int

    @property
    def completed(self) -> int:
        return sum(1 for m in self.members if m.appraisal and m.appraisal.is_completed)

    @property
    def overdue(self) -> int:
        return sum(1 for m in self.members if m.appraisal and m.appraisal.is_overdue)

    @property
    def in_cycle(self) -> int:
        return sum(1 for m in self.members if m.appraisal)


def team_overview(manager: StaffMember, *, scope: str = DIRECT, cycle_id: int | None = None) -> Team:
    """`manager`'s active reports (DIRECT, or everyone in their LINE, however deep) with their
    appraisal in the cycle (`cycle_id`, else the latest opened one) and their grid row: eight queries."""
    line = reports_in_line(manager.pk)
    people = StaffMember.objects.active().select_related("user", "service", "role_profile", "line_manager__user")
    people = list(people.filter(pk__in=line) if scope == LINE else people.filter(line_manager=manager))
    direct_count = sum(1 for p in people if p.line_manager_id == manager.pk) if scope == LINE else len(people)
    line_count = len(people) if scope == LINE else StaffMember.objects.active().filter(pk__in=line).count()
    cycles = list(AppraisalCycle.objects.filter(opened_at__isnull=False).order_by("-period_end", "name"))
    cycle = next((c for c in cycles if c.pk == cycle_id), cycles[0] if cycles else None)
    ids = [p.pk for p in people]

    appraisals = {}
    if cycle is not None:
        by_id = {p.pk: p for p in people}
        for appraisal in Appraisal.objects.filter(cycle=cycle, staff_member_id__in=ids).select_related(
            "cycle", "role_version", "appraiser__user"
        ):
            appraisal.staff_member = by_id[appraisal.staff_member_id]  # for next_actor, without a query per row
            appraisals[appraisal.staff_member_id] = appraisal

    # role profile id -> {competency id: entry level}, from the newest published version
    requirements: dict[int, dict[int, int]] = {}
    role_titles: dict[int, tuple[int, str]] = {}  # role profile id -> (its newest published version's number, title)
    for requirement in (
        RoleRequirement.objects.filter(
            version__role_profile_id__in={p.role_profile_id for p in people if p.role_profile_id},
            version__status="published",
        )
        .select_related("version")
        .order_by("version__role_profile_id", "-version__number", "position")
    ):
        version = requirement.version
        newest = role_titles.setdefault(version.role_profile_id, (version.number, version.title))
        if newest[0] == version.number:
            requirements.setdefault(version.role_profile_id, {})[requirement.competency_id] = requirement.entry_level

    latest = (
        Appraisal.objects.completed()
        .filter(staff_member_id=OuterRef("appraisal__staff_member_id"))
        .order_by("-cycle__period_end", "-pk")
        .values("pk")[:1]
    )
    levels, latest_cycles = {}, {}
    for person_id, competency_id, derived, override, cycle_name in ScoredCompetency.objects.filter(
        appraisal__staff_member_id__in=ids, appraisal_id=Subquery(latest)
    ).values_list(
        "appraisal__staff_member_id", "competency_id", "derived_level", "override_level", "appraisal__cycle__name"
    ):
        levels[person_id, competency_id] = final_level(override, derived)
        latest_cycles[person_id] = cycle_name

    column_ids = {pk for windows in requirements.values() for pk in windows}
    competencies = list(Competency.objects.filter(pk__in=column_ids).order_by("position"))
    members = []
    for person in sorted(people, key=lambda p: (p.line_manager_id != manager.pk, p.user.last_name, p.user.first_name)):
        windows = requirements.get(person.role_profile_id, {})
        member = Member(
            person=person,
            direct=person.line_manager_id == manager.pk,
            appraisal=appraisals.get(person.pk),
            role_title=role_titles.get(person.role_profile_id, (0, person.job_title))[1],
            latest_cycle=latest_cycles.get(person.pk, ""),
        )
        for competency in competencies:
            entry = windows.get(competency.pk)
            member.cells.append(
                Cell(required=entry is not None, entry_level=entry, level=levels.get((person.pk, competency.pk)))
            )
        members.append(member)
    return Team(
        manager=manager,
        scope=scope,
        cycle=cycle,
        cycles=cycles,
        members=members,
        competencies=competencies,
        direct_count=direct_count,
        line_count=line_count,
    )
