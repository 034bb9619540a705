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

from reports.selectors.filters import (
    NO_SERVICE,
    STATES_IN_ORDER,
    ReportFilters,
    opened_cycles,
    percent,
    reportable_role_profiles,
)
from reports.selectors.progress import (
    PROGRESS_BY_COLUMNS,
    PROGRESS_BY_STATE_COLUMNS,
    PROGRESS_GROUPS,
    PROGRESS_TOTAL_ROWS,
    ManagerGroups,
    Progress,
    as_progress,
    progress_by,
    progress_by_csv_rows,
    progress_by_state,
    progress_groups,
    progress_rows_html,
    progress_state_csv_rows,
)
from reports.selectors.standing import (
    BELOW_ENTRY_COLUMNS,
    DESIRED_OR_ABOVE,
    HEAT_STEPS,
    STANDING_COLUMNS,
    BelowEntryRow,
    Heatmap,
    HeatmapRow,
    StandingCell,
    below_entry,
    below_entry_csv_rows,
    below_entry_rows_html,
    heat_step_ranges,
    heatmap_rows_html,
    standing_csv_rows,
    standing_heatmap,
)

__all__ = [
    "BELOW_ENTRY_COLUMNS",
    "DESIRED_OR_ABOVE",
    "HEAT_STEPS",
    "NO_SERVICE",
    "PROGRESS_BY_COLUMNS",
    "PROGRESS_BY_STATE_COLUMNS",
    "PROGRESS_GROUPS",
    "PROGRESS_TOTAL_ROWS",
    "STANDING_COLUMNS",
    "STATES_IN_ORDER",
    "BelowEntryRow",
    "Heatmap",
    "HeatmapRow",
    "ManagerGroups",
    "Progress",
    "ReportFilters",
    "StandingCell",
    "as_progress",
    "below_entry",
    "below_entry_csv_rows",
    "below_entry_rows_html",
    "heat_step_ranges",
    "heatmap_rows_html",
    "opened_cycles",
    "percent",
    "progress_by",
    "progress_by_csv_rows",
    "progress_by_state",
    "progress_groups",
    "progress_rows_html",
    "progress_state_csv_rows",
    "reportable_role_profiles",
    "standing_csv_rows",
    "standing_heatmap",
]
