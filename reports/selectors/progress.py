"""Cycle progress: appraisals by state, and by service or by appraiser, for the report's filters."""

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from appraisal.models import Appraisal
from reports.selectors.filters import (
    NO_SERVICE,
    STATES_IN_ORDER,
    ReportFilters,
    State,
    blank_if_none,
    full_name,
    percent,
)

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
            label = full_name(first, last, username)
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
            blank_if_none(group.completed_percent),
        ]
        for group in groups
    ]
