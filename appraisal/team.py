"""The line manager's team page: where each report's appraisal stands in a cycle, and a grid of
each person's latest achieved levels against their current role's window. A fixed number of
queries whatever the size of the team or of the line.

A whole line (LINE) of up to PAGE_SIZE people is one list, the direct reports first. A longer one
is shown team by team, a page at a time (`teams_in_line`, `pages_of_teams`): the line is read as
values (`Person`), its teams worked out from them, and only the page's people have their appraisals
and levels read.
"""

import datetime
import functools
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import cast

from django.core.paginator import Paginator
from django.db.models import Count, F, Q, Window
from django.db.models.functions import RowNumber
from django.template.defaultfilters import date as date_format
from django.utils import timezone
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString

from appraisal.models import Appraisal, AppraisalCycle, ScoredCompetency
from appraisal.rules import Standing, final_level, standing
from competencies.models import Competency
from core.links import url_for
from roles.models import RoleRequirement
from staff.hierarchy import reports_in_line
from staff.models import StaffMember, display_name

DIRECT, LINE = "direct", "line"
# A line of more people than this is shown team by team, a page of at most this many people at a time.
PAGE_SIZE = 200
# A grid cell's content: outside the role, not appraised yet, or the level and its standing.
NOT_IN_ROLE = (
    '<span aria-hidden="true" class="text-body-secondary">—</span><span class="visually-hidden">{words}</span>'
)
NOT_APPRAISED = '<span class="standing standing-not_scored">{words}</span>'
APPRAISED = '<span class="standing standing-{standing}"><span class="standing-level">{level}</span> {words}</span>'
# The tables' rows are built here too (`Group.appraisal_rows`, `Group.grid_rows`): a line of two hundred
# people is two tables of two hundred rows, and the template engine took most of the page's time. Every
# value goes in through `format_html`, which escapes it; those repeated from row to row (a role, a stage, a
# date) are escaped once (`_Escaped`), and each row is one `format_html`.
PERSON = '<tr{overdue}>\n<th scope="row"><a href="{history}">{name}</a>{reports_to}</th>\n<td>{role}</td>\n'
APPRAISAL_ROW = (
    PERSON + "<td>{state}</td>\n<td>{actor}</td>\n"
    '<td class="text-nowrap">{due}</td>\n'
    '<td><a href="{record}">Open<span class="visually-hidden"> {name}\'s appraisal</span></a></td>\n</tr>\n'
)
NO_APPRAISAL_ROW = (
    PERSON + '<td colspan="4" class="text-body-secondary">No appraisal in this cycle{why}</td>\n<td></td>\n</tr>\n'
)
NOT_IN_CYCLE = " (joined or got a role profile after it opened)"
REPORTS_TO = '<br><span class="small text-body-secondary fw-normal">reports to {}</span>'
OVERDUE_ROW = SafeString(' class="is-overdue"')
OVERDUE = '{}<br><span class="overdue-flag"><span aria-hidden="true">⚠</span> Overdue by {} day{}</span>'  # due, days
GRID_ROW = (
    '<tr>\n<th scope="row"><a href="{history}">{name}</a><br>'
    '<span class="small text-body-secondary fw-normal">{latest}</span></th>\n'
    "{cells}\n</tr>\n"
)
STAGES = dict(Appraisal.State.choices)  # `get_state_display`, without building the choices for each row
YOU = SafeString("<strong>You</strong>")
NOBODY = "Nobody: completed"


@dataclass(frozen=True)
class Cell:
    """One person × competency of the grid (`cell`: the grid's few dozen different ones, shared)."""

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
def cell(required: bool, entry_level: int | None, level: int | None) -> Cell:
    """The grid's cell of these values: a grid of thousands of cells holds a few dozen different ones."""
    return Cell(required=required, entry_level=entry_level, level=level)


@functools.lru_cache(maxsize=256)
def _grid_cell(cell: Cell) -> SafeString:
    """A grid cell, `<td>` and all, made once for each of the grid's few dozen different ones."""
    return format_html("<td>{}</td>", cell.html)


@dataclass(frozen=True, slots=True)
class Person:
    """What the page shows of a person, read as values (`PERSON_FIELDS`): a line of hundreds without a
    staff record and a login built for each."""

    pk: int
    user_id: int
    username: str
    first_name: str
    last_name: str
    job_title: str
    role_profile_id: int | None
    line_manager_id: int | None

    @property
    def name(self) -> str:
        """As `StaffMember.name` gives it."""
        return display_name(self.first_name, self.last_name, self.username)


PERSON_FIELDS = (
    "pk",
    "user_id",
    "user__username",
    "user__first_name",
    "user__last_name",
    "job_title",
    "role_profile_id",
    "line_manager_id",
)


@dataclass(frozen=True, slots=True)
class TeamAppraisal:
    """What the page shows of a person's appraisal in the cycle, read as values (`_appraisals_in`)."""

    pk: int
    staff_member_id: int
    appraiser_id: int
    referred_to_id: int | None
    state: str
    completed_at: datetime.datetime | None
    cycle: AppraisalCycle

    @property
    def is_completed(self) -> bool:
        return self.state == Appraisal.State.COMPLETED

    @property
    def is_overdue(self) -> bool:
        """As `Appraisal.is_overdue`."""
        return not self.is_completed and self.cycle.due_on < timezone.localdate()


@dataclass
class Member:
    person: Person
    direct: bool = True  # a direct report (else further down the line)
    appraisal: TeamAppraisal | None = None
    role_title: str = ""
    latest_cycle: str = ""  # the cycle of the latest completed appraisal, which the grid shows
    cells: list[Cell] = field(default_factory=list)
    manager_name: str = ""  # their line manager's
    # Who acts next on the appraisal (`Appraisal.next_actor`, read without a query per row): id and name.
    actor_id: int | None = None
    actor_name: str = ""

    @functools.cached_property
    def name_html(self) -> SafeString:
        """The person's name, escaped (both tables show it)."""
        return conditional_escape(self.person.name)

    @property
    def cells_html(self) -> str:
        """The grid row's cells. Built here rather than in the template: a head of service's whole
        line is a grid of a few thousand cells, and the template engine took most of the page's time."""
        return SafeString("".join(_grid_cell(cell) for cell in self.cells))  # from format_html

    @property
    def days_overdue(self) -> int:
        if self.appraisal is None or not self.appraisal.is_overdue:
            return 0
        return (timezone.localdate() - self.appraisal.cycle.due_on).days

    @property
    def below_entry(self) -> int:
        return sum(1 for cell in self.cells if cell.standing == Standing.BELOW_ENTRY)


class _Urls:
    """The links of a page's rows (`core.links.url_for`), made once for all its tables."""

    @functools.cached_property
    def history(self) -> Callable[[int], SafeString]:
        return url_for("person_history")

    @functools.cached_property
    def record(self) -> Callable[[int], SafeString]:
        return url_for("appraisal")


@dataclass
class Group:
    """The people of one pair of tables: the whole list, or (on a page of a long line) a team, that
    is a manager's direct reports, or the part of a team too large for a page that is on this one."""

    members: list[Member]
    viewer_id: int
    cycle: AppraisalCycle | None
    manager_id: int | None = None  # whose team; None: the whole list, which has no heading
    manager_name: str = ""
    team_size: int = 0
    first: int = 1  # the position in the team of the group's first member
    urls: _Urls = field(default_factory=_Urls)  # shared by the page's groups

    @property
    def heading(self) -> str:
        """The team's heading ("" for the whole list): whose team, and how many people."""
        if self.manager_id is None:
            return ""
        whose = "Your direct reports" if self.manager_id == self.viewer_id else f"{self.manager_name}'s team"
        if len(self.members) == self.team_size:
            return f"{whose} ({self.team_size} {'person' if self.team_size == 1 else 'people'})"
        if len(self.members) == 1:
            return f"{whose} (person {self.first} of {self.team_size})"
        return f"{whose} (people {self.first}–{self.first + len(self.members) - 1} of {self.team_size})"

    @property
    def appraisal_rows(self) -> SafeString:
        """The rows of the appraisals table: each person's stage in the cycle, who acts next, when it is due."""
        history, record, escaped = self.urls.history, self.urls.record, _Escaped()
        today = timezone.localdate()
        due_on = date_format(self.cycle.due_on, "j M Y") if self.cycle else ""
        why = NOT_IN_CYCLE if self.cycle else ""
        done_on: dict[datetime.date, SafeString] = {}
        rows = []
        for member in self.members:
            appraisal = member.appraisal
            person = {
                "history": history(member.person.pk),
                "name": member.name_html,
                "role": escaped(member.role_title or "No role profile"),
                "reports_to": "",
                "overdue": "",
            }
            if self.manager_id is None and not member.direct:  # in a team's table, its heading says it
                person["reports_to"] = escaped(member.manager_name, REPORTS_TO)
            if appraisal is None:
                rows.append(format_html(NO_APPRAISAL_ROW, why=why, **person))
                continue
            if appraisal.is_completed:
                due = escaped("Done")
                if appraisal.completed_at:
                    day = timezone.localdate(appraisal.completed_at)
                    if day not in done_on:
                        done_on[day] = format_html("Done {}", date_format(day, "j M Y"))
                    due = done_on[day]
            elif self.cycle is not None and self.cycle.due_on < today:  # `Appraisal.is_overdue`
                days = (today - self.cycle.due_on).days
                person["overdue"] = OVERDUE_ROW
                due = escaped((due_on, days, "" if days == 1 else "s"), OVERDUE)
            else:
                due = escaped(due_on)
            if member.actor_id is None:
                actor = escaped(NOBODY if appraisal.state == Appraisal.State.COMPLETED else "HR")  # referred to HR
            else:
                actor = YOU if member.actor_id == self.viewer_id else escaped(member.actor_name)
            rows.append(
                format_html(
                    APPRAISAL_ROW,
                    state=escaped(STAGES[appraisal.state]),
                    actor=actor,
                    due=due,
                    record=record(appraisal.pk),
                    **person,
                )
            )
        return SafeString("".join(rows))  # from format_html

    @property
    def grid_rows(self) -> SafeString:
        """The rows of the grid: each person's latest completed cycle and levels."""
        history, escaped = self.urls.history, _Escaped()
        return SafeString(
            "".join(
                format_html(
                    GRID_ROW,
                    history=history(member.person.pk),
                    name=member.name_html,
                    latest=escaped(member.latest_cycle or "no completed appraisal"),
                    cells=member.cells_html,
                )
                for member in self.members
            )
        )  # from format_html


class _Escaped(dict[tuple[object, str], SafeString]):
    """Values repeated from row to row (a role, a stage, a date, a flag), each escaped, or put into
    `format_string` by `format_html`, once."""

    def __call__(self, value: str | tuple, format_string: str = "{}") -> SafeString:
        key = (value, format_string)
        if key not in self:
            self[key] = format_html(format_string, *(value if isinstance(value, tuple) else (value,)))
        return self[key]


@dataclass
class TeamPart:
    """A team on a page of a long line: the manager's id and their reports' ids there (all of them, or
    a part of a team larger than a page), `start` the position of the first in the team (from 0)."""

    manager_id: int
    people: list[int]
    start: int = 0
    team_size: int = 0


def teams_in_line(viewer_id: int, people: Iterable[tuple[int, int, str, str]]) -> list[tuple[int, list[int]]]:
    """The teams of a line, `people` being its members' (id, line manager id, last name, first name):
    (manager id, their direct reports' ids by name) in the line's order. The viewer's own team first,
    then depth first, each person's team (if they manage anyone) after the team they are in, in its
    order; the teams of managers outside the line (who have left) last, by their id. Each person of
    `people` is in exactly one team."""
    reports: dict[int, list[int]] = defaultdict(list)
    for pk, manager_id, _, _ in sorted(people, key=lambda row: (row[2], row[3], row[0])):
        reports[manager_id].append(pk)
    teams, seen = [], set()
    for root in [viewer_id, *sorted(reports)]:
        stack = [root]
        while stack:
            manager_id = stack.pop()
            if manager_id in seen or manager_id not in reports:
                continue
            seen.add(manager_id)
            teams.append((manager_id, reports[manager_id]))
            stack.extend(reversed(reports[manager_id]))
    return teams


def pages_of_teams(teams: list[tuple[int, list[int]]], size: int) -> list[list[TeamPart]]:
    """`teams` in order onto pages of at most `size` people: a team goes whole onto the page if it
    fits, else it starts the next page. Only a team larger than a page is cut: into full pages, its
    last part starting the next page like a team of its own."""
    pages: list[list[TeamPart]] = []
    page: list[TeamPart] = []
    count = 0
    for manager_id, people in teams:
        if count + len(people) > size and page:
            pages.append(page)
            page, count = [], 0
        start = 0
        while len(people) - start > size:
            pages.append([TeamPart(manager_id, people[start : start + size], start, len(people))])
            start += size
        page.append(TeamPart(manager_id, people[start:], start, len(people)))
        count += len(people) - start
    if page:
        pages.append(page)
    return pages


@dataclass
class LinePage:
    """The page shown of a line too long for one: its number of `count`, the positions in the line of its
    first and last person, and the numbers of the pages to link to (None for a gap)."""

    number: int
    count: int
    first: int
    last: int
    numbers: list[int | None]
    unknown: bool = False  # the page asked for is not a page number, or past the last: this is the nearest

    @property
    def previous(self) -> int | None:
        return self.number - 1 if self.number > 1 else None

    @property
    def next(self) -> int | None:
        return self.number + 1 if self.number < self.count else None


@dataclass
class OverdueAppraisal:
    pk: int
    name: str  # the person's
    stage: str


@dataclass
class OverdueCycle:
    """An earlier cycle than the one shown with appraisals of the team (or line) past its due date and
    not completed: how many, and the first OVERDUE_LISTED of them by name."""

    cycle: AppraisalCycle
    count: int
    appraisals: list[OverdueAppraisal] = field(default_factory=list)

    @property
    def more(self) -> int:
        return self.count - len(self.appraisals)


OVERDUE_LISTED = 10  # overdue appraisals of an earlier cycle named at the top of the page; the rest counted


@dataclass
class Team:
    manager: StaffMember
    scope: str
    cycle: AppraisalCycle | None
    cycles: list[AppraisalCycle]
    members: list[Member]  # the page's, in order
    competencies: list[Competency]
    direct_count: int
    line_count: int
    groups: list[Group]
    # The summary's counts: of the whole line when it is shown a page at a time, else of `members`.
    counted: int
    completed: int
    overdue: int
    page: LinePage | None = None  # when the line is shown a page at a time
    # Earlier cycles than `cycle` with overdue appraisals of the people counted: easy to miss once a
    # new cycle opens and the page shows it.
    overdue_earlier: list[OverdueCycle] = field(default_factory=list)


def _line_page(pages: list[list[TeamPart]], asked: str | None) -> tuple[LinePage, list[TeamPart]]:
    """The page `asked` for of `pages` (Django's `Paginator.get_page`: not a number, the first; past the
    last, the last) and its teams."""
    paginator = Paginator(pages, 1)  # each of `pages` is one page
    shown = paginator.get_page(asked)
    parts = pages[shown.number - 1]
    before = sum(len(part.people) for page in pages[: shown.number - 1] for part in page)
    try:
        unknown = bool(asked) and int(cast(str, asked)) != shown.number
    except ValueError:
        unknown = True
    page = LinePage(
        number=shown.number,
        count=paginator.num_pages,
        first=before + 1,
        last=before + sum(len(part.people) for part in parts),
        numbers=[
            None if number == paginator.ELLIPSIS else int(number)
            for number in paginator.get_elided_page_range(shown.number, on_each_side=2, on_ends=1)
        ],
        unknown=unknown,
    )
    return page, parts


def team_overview(
    manager: StaffMember, *, scope: str = DIRECT, cycle_id: int | None = None, page: str | None = None
) -> Team:
    """`manager`'s active reports (DIRECT, or everyone in their LINE, however deep) with their
    appraisal in the cycle (`cycle_id`, else the latest opened one) and their grid row, in eight
    queries (seven for a whole line: its people are read once, as values, for both the outline of its
    teams and their rows); one more for a line longer than PAGE_SIZE, shown a page at a time (`page`:
    the number asked for), and one more if an appraiser or a team's manager is from outside the line."""
    line = reports_in_line(manager.pk)
    parts: list[TeamPart] | None = None
    line_page = None
    names: dict[int, str] = {}  # staff member id -> name: of the line, then of the appraisers and managers shown
    people = StaffMember.objects.active().order_by().values_list(*PERSON_FIELDS)
    if scope == LINE:
        # The whole line, as values: what a page holds is worked out from them, and its people taken from them.
        outline = [Person(*row) for row in people.filter(pk__in=line)]
        names = {person.pk: person.name for person in outline}
        direct_count = sum(1 for person in outline if person.line_manager_id == manager.pk)
        line_count = len(outline)
        if line_count > PAGE_SIZE:
            # Everyone in a line has a line manager.
            teams = teams_in_line(
                manager.pk, [(p.pk, cast(int, p.line_manager_id), p.last_name, p.first_name) for p in outline]
            )
            line_page, parts = _line_page(pages_of_teams(teams, PAGE_SIZE), page)
            on_page = {pk for part in parts for pk in part.people}
            by_id = {person.pk: person for person in outline if person.pk in on_page}
        else:
            by_id = {person.pk: person for person in outline}
    else:
        by_id = {row[0]: Person(*row) for row in people.filter(line_manager=manager)}
        line_count = StaffMember.objects.active().filter(pk__in=line).count()
    ids = list(by_id)
    if scope != LINE:
        direct_count = len(ids)
    cycles = list(AppraisalCycle.objects.filter(opened_at__isnull=False).order_by("-period_end", "name"))
    cycle = next((c for c in cycles if c.pk == cycle_id), cycles[0] if cycles else None)

    appraisals = _appraisals_in(cycle, ids) if cycle is not None else {}
    # The names shown besides the people's own: who acts next (the person or the appraiser) and, in a whole
    # line, each person's line manager (the viewer's are shown as "You" or not at all).
    names.update((person.pk, person.name) for person in by_id.values())
    shown = {appraisal.appraiser_id for appraisal in appraisals.values()}
    shown |= {appraisal.referred_to_id for appraisal in appraisals.values() if appraisal.referred_to_id}
    if scope == LINE:
        shown |= {person.line_manager_id for person in by_id.values() if person.line_manager_id}
    if unnamed := shown - names.keys() - {manager.pk}:  # from outside the line, or who left
        names.update(StaffMember.objects.filter(pk__in=unnamed).names())
    requirements, role_titles = _windows({person.role_profile_id for person in by_id.values()} - {None})
    levels, latest_cycles = _latest_levels(ids)

    column_ids = {pk for windows in requirements.values() for pk in windows}
    competencies = list(Competency.objects.filter(pk__in=column_ids).order_by("position"))
    columns = [competency.pk for competency in competencies]
    members = {}
    for person_id, person in by_id.items():
        windows = requirements.get(person.role_profile_id or 0, {})
        theirs = appraisals.get(person_id)
        acts = Appraisal.ACTED_ON_BY.get(theirs.state) if theirs else None
        actor_id = getattr(theirs, f"{acts}_id") if acts else None  # `Appraisal.next_actor`'s id
        members[person_id] = Member(
            person=person,
            direct=person.line_manager_id == manager.pk,
            appraisal=theirs,
            role_title=role_titles.get(person.role_profile_id or 0, person.job_title),
            latest_cycle=latest_cycles.get(person_id, ""),
            cells=[
                cell(entry is not None, entry, levels.get((person_id, column)))
                for column in columns
                for entry in (windows.get(column),)
            ],
            manager_name=names.get(person.line_manager_id or 0, ""),
            actor_id=actor_id,
            actor_name=names.get(actor_id, "") if actor_id else "",
        )

    if parts is None:
        ordered = sorted(
            members.values(),
            key=lambda m: (not m.direct, m.person.last_name, m.person.first_name, m.person.pk),
        )
        groups = [Group(members=ordered, viewer_id=manager.pk, cycle=cycle)]
        total = len(ordered)
        completed = sum(1 for m in ordered if m.appraisal and m.appraisal.is_completed)
        overdue = sum(1 for m in ordered if m.appraisal and m.appraisal.is_overdue)
    else:
        urls = _Urls()
        groups = [
            Group(
                members=[members[pk] for pk in part.people if pk in members],
                viewer_id=manager.pk,
                cycle=cycle,
                manager_id=part.manager_id,
                manager_name=names.get(part.manager_id, ""),
                team_size=part.team_size,
                first=part.start + 1,
                urls=urls,
            )
            for part in parts
        ]
        groups = [group for group in groups if group.members]
        ordered = [member for group in groups for member in group.members]
        total = line_count
        completed, overdue = _line_tally(cycle, [person.pk for person in outline])
    counted_ids = [person.pk for person in outline] if scope == LINE else ids
    return Team(
        overdue_earlier=_overdue_earlier(cycle, cycles, counted_ids) if cycle is not None else [],
        manager=manager,
        scope=scope,
        cycle=cycle,
        cycles=cycles,
        members=ordered,
        competencies=competencies,
        direct_count=direct_count,
        line_count=line_count,
        groups=groups,
        counted=total,
        completed=completed,
        overdue=overdue,
        page=line_page,
    )


def _appraisals_in(cycle: AppraisalCycle, ids: list[int]) -> dict[int, TeamAppraisal]:
    """{person id: their appraisal in `cycle`} of the people `ids`, with what the page shows of them (one query)."""
    return {
        row[1]: TeamAppraisal(*row, cycle=cycle)
        for row in Appraisal.objects.filter(cycle=cycle, staff_member_id__in=ids)
        .order_by()
        .values_list("pk", "staff_member_id", "appraiser_id", "referred_to_id", "state", "completed_at")
    }


def _windows(role_ids: set[int | None]) -> tuple[dict[int, dict[int, int]], dict[int, str]]:
    """Of the role profiles `role_ids`, from each one's newest published version: {role profile id:
    {competency id: entry level}} and {role profile id: title} (one query)."""
    requirements: dict[int, dict[int, int]] = {}
    newest: dict[int, tuple[int, str]] = {}  # role profile id -> (its newest published version's number, title)
    for role_id, number, title, competency_id, entry_level in (
        RoleRequirement.objects.filter(version__role_profile_id__in=role_ids, version__status="published")
        .order_by("version__role_profile_id", "-version__number", "position")
        .values_list("version__role_profile_id", "version__number", "version__title", "competency_id", "entry_level")
    ):
        if newest.setdefault(role_id, (number, title))[0] == number:
            requirements.setdefault(role_id, {})[competency_id] = entry_level
    return requirements, {role_id: title for role_id, (_, title) in newest.items()}


def _latest_levels(ids: list[int]) -> tuple[dict[tuple[int, int], int | None], dict[int, str]]:
    """Of the people `ids`, from each one's latest completed appraisal: {(person id, competency id): final
    level} and {person id: the appraisal's cycle name} (one query)."""
    # The latest (in Appraisal's order: the period's end, then id), ranked in one pass over everyone's
    # completed appraisals rather than looked up once for each of their scored competencies.
    latest = (
        Appraisal.objects.completed()
        .filter(staff_member_id__in=ids)
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=F("staff_member_id"),
                order_by=[F("cycle__period_end").desc(), F("pk").desc()],
            )
        )
        .filter(rank=1)
        .values("pk")
    )
    levels, cycle_names = {}, {}
    for person_id, competency_id, derived, override, cycle_name in (
        ScoredCompetency.objects.filter(appraisal_id__in=latest)
        .order_by()
        .values_list(
            "appraisal__staff_member_id", "competency_id", "derived_level", "override_level", "appraisal__cycle__name"
        )
    ):
        levels[person_id, competency_id] = final_level(override, derived)
        cycle_names[person_id] = cycle_name
    return levels, cycle_names


def _overdue_earlier(cycle: AppraisalCycle, cycles: list[AppraisalCycle], ids: list[int]) -> list[OverdueCycle]:
    """Of the people `ids`, the appraisals not completed in opened cycles that end before `cycle` and are
    past their due date: per cycle (newest first, as `cycles` runs), how many and the first
    OVERDUE_LISTED by name (one query)."""
    person = "staff_member__user__"
    rows = (
        Appraisal.objects.filter(
            staff_member_id__in=ids,
            cycle__opened_at__isnull=False,
            cycle__period_end__lt=cycle.period_end,
            cycle__due_on__lt=timezone.localdate(),  # `Appraisal.is_overdue`
        )
        .exclude(state=Appraisal.State.COMPLETED)
        .annotate(
            number=Window(
                RowNumber(),
                partition_by=F("cycle_id"),
                order_by=[F(f"{person}last_name").asc(), F(f"{person}first_name").asc(), F("pk").asc()],
            ),
            total=Window(Count("pk"), partition_by=F("cycle_id")),
        )
        .filter(number__lte=OVERDUE_LISTED)
        .order_by("cycle_id", "number")
        .values_list(
            "pk", "cycle_id", "state", f"{person}first_name", f"{person}last_name", f"{person}username", "total"
        )
    )
    found: dict[int, OverdueCycle] = {}
    by_id = {c.pk: c for c in cycles}
    for pk, cycle_id, state, first, last, username, total in rows:
        entry = found.setdefault(cycle_id, OverdueCycle(cycle=by_id[cycle_id], count=total))
        entry.appraisals.append(OverdueAppraisal(pk=pk, name=display_name(first, last, username), stage=STAGES[state]))
    return [found[c.pk] for c in cycles if c.pk in found]


def _line_tally(cycle: AppraisalCycle | None, ids: list[int]) -> tuple[int, int]:
    """(completed, overdue) of the appraisals in `cycle` of the people `ids` (one query)."""
    if cycle is None:
        return 0, 0
    counts = Appraisal.objects.filter(cycle=cycle, staff_member_id__in=ids).aggregate(
        appraisals=Count("pk"), completed=Count("pk", filter=Q(state=Appraisal.State.COMPLETED))
    )
    # Every appraisal not completed is overdue once the cycle's due date has passed (`Appraisal.is_overdue`).
    late = cycle.due_on < timezone.localdate()
    return counts["completed"], counts["appraisals"] - counts["completed"] if late else 0
