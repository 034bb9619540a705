"""Exports for HR admins."""

import csv

from django.http import StreamingHttpResponse

from appraisal.models import ScoredCompetency
from roles.access import hr_admin_required

OUTCOME_COLUMNS = [
    "appraisal_id", "username", "person", "role_profile", "cycle", "cycle_end", "state", "competency",
    "entry_level", "desired_level", "exceptional_level", "derived_level", "achieved_level",
]


class _Echo:
    def write(self, value):
        return value


def outcome_rows(cycle_id: int | None = None):
    """One row per appraisal and competency, in OUTCOME_COLUMNS order, from one query (streamed).

    Levels are integers; "below entry" is entry_level - 1; empty where not yet scored. The
    competency name is the one the appraisal recorded when its cycle opened.
    """
    rows = ScoredCompetency.objects.order_by("appraisal__cycle__period_end", "appraisal_id", "position")
    if cycle_id is not None:
        rows = rows.filter(appraisal__cycle_id=cycle_id)
    fields = rows.values_list(
        "appraisal_id", "appraisal__staff_member__user__username", "appraisal__staff_member__user__first_name",
        "appraisal__staff_member__user__last_name", "appraisal__role_version__title", "appraisal__cycle__name",
        "appraisal__cycle__period_end", "appraisal__state", "name", "entry_level", "derived_level", "override_level",
    )
    for (appraisal_id, username, first, last, role, cycle, cycle_end, state, name, entry, derived, override) in fields.iterator(chunk_size=2000):
        achieved = override if override is not None else derived
        yield [
            appraisal_id, username, f"{first} {last}".strip() or username, role, cycle, cycle_end.isoformat(), state, name,
            entry, entry + 1, entry + 2, "" if derived is None else derived, "" if achieved is None else achieved,
        ]


@hr_admin_required
def outcomes_csv(request):
    """/reports/outcomes.csv (optionally ?cycle=<id>): every appraisal's outcome per competency."""
    try:
        cycle_id = int(request.GET["cycle"]) if request.GET.get("cycle") else None
    except ValueError:
        cycle_id = None
    writer = csv.writer(_Echo())
    lines = (writer.writerow(row) for row in _with_header(outcome_rows(cycle_id)))
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="outcomes.csv"'
    return response


def _with_header(rows):
    yield OUTCOME_COLUMNS
    yield from rows
