"""Cycle progress: appraisals by state, and by service or by appraiser, for the report's filters."""

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString

from appraisal.models import ProgressTally
from reports.selectors.filters import (
    NO_SERVICE,
    STATES_IN_ORDER,
    Paged,
    ReportFilters,
    State,
    blank_if_none,
    percent,
)
from staff.models import Service, StaffMember

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


def progress_rows_html(rows: list[Progress]) -> SafeString:
    """The table rows of `_report_progress_table.html`, built here: a hundred services or fifty managers
    rendered cell by cell through the template took most of the report's time. The label is escaped; the
    rest are integers."""
    html = []
    for row in rows:
        counts = "".join(f'<td class="text-end">{int(row.counts[state.value])}</td>' for state in STATES_IN_ORDER)
        overdue = f'<span class="badge text-bg-warning">{int(row.overdue)}</span>' if row.overdue else "0"
        done = row.completed_percent
        html.append(
            f'<tr>\n      <th scope="row">{escape(row.label)}</th>\n      {counts}\n'
            f'      <td class="text-end fw-semibold">{int(row.total)}</td>\n      <td class="text-end">{overdue}</td>\n'
            f'      <td class="text-end">{"—" if done is None else f"{int(done)}%"}</td>\n    </tr>'
        )
    return SafeString("\n".join(html))


def _state_counts(filters: ReportFilters, by_service: bool = False) -> dict[Any, Counter[str]]:
    """The cycle's appraisals counted by state (`by_service`: by the person's service key too; else one
    group, None), in one query over the tallies, less the excluded people's records. The managers'
    are counted a page at a time (`ManagerGroups`)."""
    groups: dict[Any, Counter[str]] = defaultdict(Counter)
    fields = ("service_key",) if by_service else ()
    for *group, state, appraisals in (
        ProgressTally.objects.filter(filters.tally_q())
        .values_list(*fields, "state")
        .annotate(appraisals=Sum("count"))
        .order_by()
    ):
        groups[group[0] if group else None][state] += appraisals
    for tally, count in filters.excluded.progress.items():
        if filters.matches(tally):
            groups[tally[1] if by_service else None][tally[4]] -= count  # the key: cycle, service key, ...
    return {key: counts for key, counts in groups.items() if counts.total()}


def _progress(label: str, counts: Counter[str], *, overdue: bool) -> Progress:
    """Counts by state as a Progress; `overdue`: the cycle is past its due date, so every appraisal not
    completed is overdue."""
    progress = Progress(label=label)
    for state, count in counts.items():
        if count:
            progress.add(state, count, count if overdue and state != State.COMPLETED else 0)
    return progress


def _is_overdue(filters: ReportFilters) -> bool:
    return filters.cycle.due_on < timezone.localdate()


def progress_by_state(filters: ReportFilters, *, by_service: list[Progress] | None = None) -> Progress:
    """The cycle's appraisals by state (one query; none when `progress_by(filters, "service")` is given:
    its rows add up to it, every appraisal counted under one service or "No service")."""
    if by_service is None:
        counts = _state_counts(filters).get(None, Counter())
    else:
        counts = Counter()
        for row in by_service:
            counts.update(row.counts)
    return _progress(filters.cycle.name, counts, overdue=_is_overdue(filters))


def progress_by(filters: ReportFilters, group: str, *, service_names: dict[int, str] | None = None) -> list[Progress]:
    """The cycle's appraisals by state for each service ("No service" last) or each appraiser (two queries;
    one for the services when their names are given, {id: name} of every service, as the filters list them).

    Services are the people's current services; managers are the appraisers, by last name.
    """
    return as_progress(filters, progress_groups(filters, group, service_names=service_names))


def as_progress(filters: ReportFilters, groups: Iterable[tuple[str, Counter[str]]]) -> list[Progress]:
    """`progress_groups`' groups (a page of them) as Progress rows."""
    overdue = _is_overdue(filters)
    return [_progress(label, counts, overdue=overdue) for label, counts in groups]


def progress_groups(
    filters: ReportFilters, group: str, *, service_names: dict[int, str] | None = None
) -> list[tuple[str, Counter[str]]]:
    """`progress_by`'s groups, in order, as (label, {state: appraisals}). The managers' are read in the
    database's order (`ManagerGroups`), which a page of them shares."""
    if group == "manager":
        return ManagerGroups(filters)[:]
    if group != "service":
        raise ValueError(f"group must be one of {PROGRESS_GROUPS}, not {group!r}")
    counts = _state_counts(filters, by_service=True)
    # A hundred at most: always the same one query, unless the filters' list of them is given.
    names = service_names if service_names is not None else dict(Service.objects.values_list("pk", "name"))
    sort_keys = {key: (names.get(key) is None, (names.get(key) or "").casefold()) for key in counts}
    return [(names.get(key) or NO_SERVICE, counts[key]) for key in sorted(counts, key=sort_keys.__getitem__)]


class ManagerGroups(Paged[tuple[str, Counter[str]]]):
    """The cycle's appraisers and their appraisals by state, by name (`staff.models.name_order`, which the
    tallies keep beside each appraiser's counts), as (label, {state: count}), read a page at a time:
    `Paginator` asks `count()` (one query over the cycle's tallies), then a slice: one query reads the
    page's counts through the tallies' index by name, which stops at the page's end however many
    appraisers there are, and one more their names.

    The excluded people's records are subtracted from their appraisers' counts; an appraiser left with
    none is left out (read first, in one more query, when the viewer has exclusions in the filters)."""

    def __init__(self, filters: ReportFilters):
        self.filters = filters
        self.less: dict[int, Counter[str]] = defaultdict(Counter)  # appraiser: what the excluded records count
        for tally, count in filters.excluded.progress.items():
            if filters.matches(tally) and count:
                self.less[tally[3]][tally[4]] += count

    @cached_property
    def _emptied(self) -> list[int]:
        """The appraisers whose every appraisal is an excluded person's."""
        if not self.less:
            return []
        totals = (
            ProgressTally.objects.filter(self.filters.tally_q(), appraiser_id__in=list(self.less))
            .values_list("appraiser_id")
            .annotate(total=Sum("count"))
            .order_by()
        )
        return [appraiser for appraiser, total in totals if total <= self.less[appraiser].total()]

    def _groups(self):
        return (
            ProgressTally.objects.filter(self.filters.tally_q())
            .exclude(appraiser_id__in=self._emptied)
            .values("appraiser_order", "appraiser_id")
            .annotate(total=Sum("count"))
            .filter(total__gt=0)
        )

    def count(self) -> int:
        # Once per page (`Paginator` keeps it): the appraisers with a tally, none of which is ever 0 (`tallies`
        # deletes it), through the index by name alone.
        return (
            ProgressTally.objects.filter(self.filters.tally_q())
            .exclude(appraiser_id__in=self._emptied)
            .values("appraiser_id")
            .distinct()
            .count()
        )

    def rows(self, page: slice) -> list[tuple[str, Counter[str]]]:
        states = {f"in_{index}": state.value for index, state in enumerate(STATES_IN_ORDER)}
        rows = list(
            self._groups()
            .annotate(**{column: Sum("count", filter=Q(state=state)) for column, state in states.items()})
            .order_by("appraiser_order", "appraiser_id")[page]
        )
        names = StaffMember.objects.filter(pk__in=[row["appraiser_id"] for row in rows]).names()
        groups = []
        for row in rows:
            counts = Counter({state: row[column] or 0 for column, state in states.items()})
            counts.subtract(self.less.get(row["appraiser_id"], Counter()))
            groups.append((names.get(row["appraiser_id"], ""), +counts))
        return groups


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
            blank_if_none(group.completed_percent),
        ]
        for group in groups
    ]
