"""A person's competency history: every completed appraisal's achieved levels, competency by
competency, across role changes, with what the next level up asks. Read by the history page, its
PDF, and nothing else; a fixed number of queries whatever the number of cycles or competencies.

Levels are absolute, so one competency's records form one line across roles. The band drawn with
it is the window of the role the person holds now; each record also keeps the window it was
scored against (shown in the table).
"""

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import pairwise
from typing import cast

from django.utils import timezone

from appraisal.charts import LevelChart, level_chart
from appraisal.models import Appraisal, ScoredCompetency
from appraisal.rules import Record, Standing, final_level, held_since, standing
from competencies.models import Competency, Indicator, Level
from competencies.windows import WINDOW_SIZE, window_label
from roles.models import RoleProfileVersion
from roles.selectors import current_title
from staff.models import RoleAssignment, StaffMember


@dataclass
class Point:
    """One completed appraisal's result for one competency."""

    appraisal_id: int
    cycle_name: str
    period_end: datetime.date
    role_title: str
    entry_level: int  # of the window the record was scored against
    level: int | None  # achieved: the override, else the derived level
    derived_level: int | None
    override_level: int | None
    self_level: int | None
    by_rule: bool = False  # the level was reached by a sustained-level rule
    rule_text: str = ""

    @property
    def window_label(self) -> str:
        return window_label(self.entry_level)

    @property
    def level_label(self) -> str:
        return level_words(self.level, self.entry_level)

    @property
    def self_label(self) -> str:
        return level_words(self.self_level, self.entry_level) if self.self_level is not None else ""

    @property
    def year_label(self) -> str:
        return f"{self.period_end:%b %Y}"


def level_words(level: int | None, entry_level: int) -> str:
    """ "Level 4 (Desired)", "Level 1 (below entry)", "Not scored" against the window from `entry_level`."""
    if level is None:
        return "Not scored"
    place = standing(level, entry_level)
    if level < 1:
        return "Below level 1 (below entry)"
    if place == Standing.BELOW_ENTRY:
        return f"Level {level} (below entry)"
    return f"Level {level} ({place.label})" if place != Standing.ABOVE else f"Level {level} (above the window)"


@dataclass
class NextLevel:
    """What the level above the latest record asks: its indicators, or its sustained-level rule."""

    level: Level
    indicators: list = field(default_factory=list)
    beyond_window: bool = False  # above the current role's Exceptional level
    held_since: datetime.date | None = None  # for a rule: since when the rule's level has been held

    @property
    def rule(self) -> str:
        """The level's sustained-level rule as the framework words it, ending as a sentence does."""
        text = self.level.rule_text.strip() or (
            f"Level {self.level.sustained_level} held for {self.level.sustained_months} months."
        )
        return text if text.endswith((".", "!", "?")) else f"{text}."

    @property
    def so_far(self) -> str:
        """What the records show towards the rule, said apart from the rule: the level is not reached yet
        (it is the level above the latest record)."""
        if self.held_since is None:
            return f"Level {self.level.number} is not reached yet."
        return (
            f"Level {self.level.sustained_level} or above recorded continuously since {self.held_since:%-d %B %Y}."
            f" Level {self.level.number} is not reached yet."
        )


@dataclass
class CompetencyHistory:
    competency_id: int
    name: str
    points: list[Point]
    entry_level: int | None  # the current role's window; None when the role does not require it
    next_level: NextLevel | None
    top_reached: bool  # the latest record is at the competency's highest defined level
    chart: LevelChart | None = None
    cells: list = field(default_factory=list)  # per completed appraisal of the history: its Point, or None

    @property
    def in_role(self) -> bool:
        return self.entry_level is not None

    @property
    def latest(self) -> Point | None:
        for point in reversed(self.points):
            if point.level is not None:
                return point
        return None

    @property
    def window_label(self) -> str:
        return window_label(self.entry_level) if self.entry_level is not None else ""

    @property
    def chart_id(self) -> str:
        return f"chart-{self.competency_id}"

    @property
    def chart_svg(self) -> str:
        return self.chart.svg(self.chart_id) if self.chart else ""

    @property
    def latest_standing(self) -> Standing:
        """The latest level against the current role's window (NOT_SCORED outside the role)."""
        latest = self.latest
        return standing(latest.level if latest and self.in_role else None, self.entry_level or 0)

    @property
    def latest_against_role(self) -> str:
        """The latest level in words, against the current role's window."""
        latest = self.latest
        if latest is None:
            return "Not appraised yet"
        return level_words(latest.level, self.entry_level) if self.entry_level is not None else f"Level {latest.level}"

    @property
    def has_self_assessment(self) -> bool:
        return any(point.self_level is not None for point in self.points)


@dataclass
class RoleChange:
    since: datetime.date
    title: str
    approximate: bool = False  # inferred from two records against different roles, not from the role history


@dataclass
class History:
    person: StaffMember
    role_version: RoleProfileVersion | None
    appraisals: list[Appraisal]
    completed: list[Appraisal]
    competencies: list[CompetencyHistory]
    role_changes: list[RoleChange]

    @property
    def sustained_achievements(self) -> list[tuple[CompetencyHistory, Point]]:
        return [(c, p) for c in self.competencies for p in c.points if p.by_rule]


def person_history(person: StaffMember) -> History:
    """The history of `person` (loaded with user, service and role profile): nine queries."""
    appraisals = list(
        Appraisal.objects.filter(staff_member=person)
        .select_related("cycle", "role_version", "appraiser__user")
        .order_by("-cycle__period_end", "-pk")
    )
    completed = sorted((a for a in appraisals if a.is_completed), key=lambda a: a.cycle.period_end)
    by_id = {a.pk: a for a in completed}
    scored = defaultdict(list)
    if completed:
        for row in ScoredCompetency.objects.filter(appraisal_id__in=by_id).only(
            "appraisal_id",
            "competency_id",
            "position",
            "name",
            "entry_level",
            "levels",
            "derived_level",
            "self_level",
            "override_level",
        ):
            scored[row.competency_id].append(row)
    requirements = {}
    role_version = None
    if person.role_profile_id:
        role_version = (
            RoleProfileVersion.objects.filter(
                role_profile_id=person.role_profile_id, status=RoleProfileVersion.Status.PUBLISHED
            )
            .prefetch_related("requirements")
            .order_by("-number")
            .first()
        )
        if role_version is not None:
            requirements = {r.competency_id: r for r in role_version.requirements.all()}
    framework = {c.pk: c for c in Competency.objects.order_by()}
    levels: defaultdict[int, dict[int, Level]] = defaultdict(dict)  # {competency id: {number: level}}, current only
    for level in Level.objects.filter(retired_at__isnull=True).order_by():
        levels[level.competency_id][level.number] = level

    rows = []
    for competency_id in _competency_order(requirements, scored, framework):
        competency = framework[competency_id]
        points = [
            _point(row, by_id[row.appraisal_id])
            for row in sorted(scored.get(competency_id, []), key=lambda r: by_id[r.appraisal_id].cycle.period_end)
        ]
        requirement = requirements.get(competency_id)
        rows.append(
            CompetencyHistory(
                competency_id=competency_id,
                name=competency.name,
                points=points,
                entry_level=requirement.entry_level if requirement else None,
                next_level=None,
                top_reached=False,
            )
        )
    for row in rows:
        _next_level(row, levels[row.competency_id], completed)
        by_appraisal = {point.appraisal_id: point for point in row.points}
        row.cells = [by_appraisal.get(appraisal.pk) for appraisal in completed]
    # The indicators of each next level (only those: not the whole framework's), in one query.
    asked = {row.next_level.level.pk: row.next_level for row in rows if row.next_level is not None}
    for indicator in (
        Indicator.objects.current().filter(level_id__in=list(asked)).order_by("level_id", "position", "pk")
    ):
        asked[indicator.level_id].indicators.append(indicator)

    role_changes = _role_changes(person, completed)
    for row in rows:
        row.chart = level_chart(
            points=row.points, entry_level=row.entry_level, role_changes=role_changes, title=row.name
        )
    return History(
        person=person,
        role_version=role_version,
        appraisals=appraisals,
        completed=completed,
        competencies=rows,
        role_changes=role_changes,
    )


def _competency_order(requirements, scored, framework) -> list[int]:
    """The current role's competencies in its order, then any others with records, in framework order."""
    in_role = sorted(requirements, key=lambda pk: requirements[pk].position)
    others = sorted(
        (pk for pk in scored if pk not in requirements and pk in framework), key=lambda pk: framework[pk].position
    )
    return in_role + others


def _point(row: ScoredCompetency, appraisal: Appraisal) -> Point:
    level = final_level(row.override_level, row.derived_level)
    rule = next((snap for snap in row.levels if snap["number"] == level and snap.get("sustained_level")), None)
    return Point(
        appraisal_id=appraisal.pk,
        cycle_name=appraisal.cycle.name,
        period_end=appraisal.cycle.period_end,
        role_title=appraisal.role_version.title,
        entry_level=row.entry_level,
        level=level,
        derived_level=row.derived_level,
        override_level=row.override_level,
        self_level=row.self_level,
        by_rule=rule is not None and row.override_level is None,
        rule_text=rule.get("rule_text", "") if rule else "",
    )


def _next_level(row: CompetencyHistory, levels: dict[int, Level], completed: list[Appraisal]) -> None:
    """Set what the level above the latest record asks (or, never appraised, the role's Entry level),
    from the competency's current `levels` by number; its indicators are added by the caller."""
    if not levels:
        return
    latest = row.latest
    # Each `cast(int, latest.level)`: `latest` is the newest point that has a level, so its level is never None.
    if latest is None:
        number = row.entry_level if row.entry_level is not None else min(levels)
    else:
        number = cast(int, latest.level) + 1
        if number > max(levels):  # no level above the latest
            row.top_reached = True
            return
    number = max(number, min(levels))
    level = levels.get(number)
    if level is None:
        return
    next_level = NextLevel(
        level=level, beyond_window=row.entry_level is not None and number > row.entry_level + WINDOW_SIZE - 1
    )
    if level.sustained_level and latest is not None and cast(int, latest.level) >= level.sustained_level:
        records = [Record(p.period_end, p.level) for p in row.points if p is not latest]
        # Completed appraisals that did not include the competency break a run too.
        seen = {p.period_end for p in row.points}
        records += [Record(a.cycle.period_end, None) for a in completed if a.cycle.period_end not in seen]
        next_level.held_since = held_since(level.sustained_level, latest.period_end, records)
    row.next_level = next_level


def _role_changes(person: StaffMember, completed: list[Appraisal]) -> list[RoleChange]:
    """Changes of role after the first completed record: from the role history, else inferred
    between two records scored against different roles."""
    if not completed:
        return []
    first = completed[0].cycle.period_end
    assignments = list(
        RoleAssignment.objects.filter(staff_member=person)
        .annotate(title=current_title("role_profile"))
        .order_by("since", "pk")
    )
    changes = []
    previous = completed[0].role_version.role_profile_id  # what the first record was scored against
    for assignment in assignments:
        if assignment.since > first and assignment.role_profile_id != previous:
            changes.append(RoleChange(assignment.since, assignment.title or ""))
            previous = assignment.role_profile_id
    for before, after in pairwise(completed):
        if before.role_version.role_profile_id == after.role_version.role_profile_id:
            continue
        if any(before.cycle.period_end < change.since <= after.cycle.period_end for change in changes):
            continue
        since = max(after.cycle.period_start, before.cycle.period_end + datetime.timedelta(days=1))
        changes.append(RoleChange(since, after.role_version.title, approximate=True))
    today = timezone.localdate()
    return sorted((c for c in changes if c.since <= today), key=lambda c: c.since)
