"""Organisation reports and exports for HR admins: /reports/ and its CSV downloads."""

from typing import Any

from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import render
from django.utils.text import slugify
from django.views.decorators.http import require_safe

from appraisal.disagreements import disagreements, rows_html as disagreement_rows
from appraisal.models import AppraisalCycle, ScoredCompetency
from appraisal.rules import STANDING_LABELS, STANDINGS_IN_ORDER, final_level
from core.access import hr_admin_required
from core.params import id_param
from core.text import SpreadsheetSafeWriter
from reports import selectors as reports
from reports.forms import ReportFilterForm
from staff.access import hr_conflicts

OUTCOME_COLUMNS = [
    "appraisal_id",
    "username",
    "person",
    "role_profile",
    "cycle",
    "cycle_end",
    "state",
    "competency",
    "entry_level",
    "desired_level",
    "exceptional_level",
    "derived_level",
    "achieved_level",
]


# Rows of a long section (managers, staff below entry) on one page of the report.
REPORT_PAGE_SIZE = 50


class _Echo:
    def write(self, value):
        return value


def outcome_rows(cycle_id: int | None = None, *, excluded_people: frozenset[int] = frozenset()):
    """One row per appraisal and competency, in OUTCOME_COLUMNS order, from one query (streamed).

    Levels are integers; "below entry" is entry_level - 1; empty where not yet scored. The
    competency name is the one the appraisal recorded when its cycle opened. The appraisals of
    `excluded_people` are left out (`staff.access.hr_conflicts`).
    """
    rows = ScoredCompetency.objects.filter(appraisal__staged_for__isnull=True).order_by(  # not an opening's, yet
        "appraisal__cycle__period_end", "appraisal_id", "position"
    )
    if cycle_id is not None:
        rows = rows.filter(appraisal__cycle_id=cycle_id)
    if excluded_people:
        rows = rows.exclude(appraisal__staff_member_id__in=excluded_people)
    fields = rows.values_list(
        "appraisal_id",
        "appraisal__staff_member__user__username",
        "appraisal__staff_member__user__first_name",
        "appraisal__staff_member__user__last_name",
        "appraisal__role_version__title",
        "appraisal__cycle__name",
        "appraisal__cycle__period_end",
        "appraisal__state",
        "name",
        "entry_level",
        "derived_level",
        "override_level",
    )
    for (
        appraisal_id,
        username,
        first,
        last,
        role,
        cycle,
        cycle_end,
        state,
        name,
        entry,
        derived,
        override,
    ) in fields.iterator(chunk_size=2000):
        achieved = final_level(override, derived)
        yield [
            appraisal_id,
            username,
            f"{first} {last}".strip() or username,
            role,
            cycle,
            cycle_end.isoformat(),
            state,
            name,
            entry,
            entry + 1,
            entry + 2,
            "" if derived is None else derived,
            "" if achieved is None else achieved,
        ]


@hr_admin_required
@require_safe
def outcomes_csv(request):
    """/reports/outcomes.csv (optionally ?cycle=<id>): every appraisal's outcome per competency."""
    cycle_id = id_param(request.GET, "cycle")
    if cycle_id is not None and not AppraisalCycle.objects.filter(pk=cycle_id).exists():
        raise Http404("No such cycle.")  # before the download starts: a stream cannot turn into an error page
    writer = SpreadsheetSafeWriter(_Echo())
    rows = outcome_rows(cycle_id, excluded_people=hr_conflicts(request.user))
    lines = (writer.writerow(row) for row in _with_header(rows))
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="outcomes.csv"'
    return response


def _with_header(rows):
    yield OUTCOME_COLUMNS
    yield from rows


# --- /reports/ ------------------------------------------------------------------------------------


@hr_admin_required
@require_safe
def report_page(request):
    """Cycle progress, standing against the window and development needs, for the chosen filters."""
    form = ReportFilterForm(request.GET)
    context: dict[str, Any] = {"form": form, "filters": None}
    if form.is_valid() and (filters := form.filters(excluded_people=hr_conflicts(request.user))) is not None:
        # The two sections that grow with the organisation, a page at a time (each page link keeps the other's).
        managers = Paginator(reports.ManagerGroups(filters), REPORT_PAGE_SIZE).get_page(request.GET.get("managers"))
        # The services and role profiles the filters list (read for their options) name the sections' rows.
        heatmap = reports.standing_heatmap(filters, titles=form.role_titles())
        below = Paginator(reports.below_entry(filters, count=heatmap.below_entry), REPORT_PAGE_SIZE).get_page(
            request.GET.get("below")
        )
        by_service = reports.progress_by(filters, "service", service_names=form.service_names())
        progress = reports.progress_by_state(filters, by_service=by_service)
        disagreed = disagreements(
            filters.cycle, within=filters.appraisal_q("appraisal__", cycle=False), limit=REPORT_PAGE_SIZE + 1
        )
        context.update(
            filters=filters,
            progress=progress,
            progress_rows=reports.progress_rows_html([progress]),
            by_service=by_service,
            by_service_rows=reports.progress_rows_html(by_service),
            by_manager=managers,
            by_manager_rows=reports.progress_rows_html(reports.as_progress(filters, managers.object_list)),
            manager_pages_query=_pages_query(filters, below=below.number),
            heatmap=heatmap,
            heatmap_rows=reports.heatmap_rows_html(heatmap),
            below_entry=below,
            below_entry_rows=reports.below_entry_rows_html(below.object_list),
            below_pages_query=_pages_query(filters, managers=managers.number),
            states=reports.STATES_IN_ORDER,
            heat_steps=reports.heat_step_ranges(),
            standing_labels=[STANDING_LABELS[standing] for standing in STANDINGS_IN_ORDER],
            excluded=bool(filters.excluded_people),
            disagreements=disagreed[:REPORT_PAGE_SIZE],
            disagreement_rows=disagreement_rows(disagreed[:REPORT_PAGE_SIZE]),
            more=bool(disagreed[REPORT_PAGE_SIZE:]),
            filtered=bool(filters.service or filters.role_profile),
        )
    return render(request, "appraisal/reports.html", context)


def _pages_query(filters: reports.ReportFilters, **pages: int) -> str:
    """The filters' query string, with the other section's page (for a section's page links)."""
    return "&".join([filters.query_string, *(f"{name}={number}" for name, number in pages.items() if number > 1)])


# --- CSV downloads of the page's sections ---------------------------------------------------------


def _report_csv(request, name: str, columns: list[str], rows_for) -> HttpResponse:
    """A download of one section for the page's filters: header row first, UTF-8.

    `rows_for(filters)` gives the rows; no cycle opened yet gives the header alone; filters that do
    not validate give 400 with what to correct.
    """
    form = ReportFilterForm(request.GET)
    if not form.is_valid():
        problems = "\n".join(
            f"{form.fields[field].label}: {' '.join(map(str, errors))}" for field, errors in form.errors.items()
        )
        return HttpResponseBadRequest(f"Correct the filters:\n{problems}\n", content_type="text/plain; charset=utf-8")
    filters = form.filters(excluded_people=hr_conflicts(request.user))
    rows = rows_for(filters) if filters is not None else []
    filename = f"{name}-{slugify(filters.cycle.name)}.csv" if filters is not None else f"{name}.csv"
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = SpreadsheetSafeWriter(response)
    writer.writerow(columns)
    writer.writerows(rows)
    return response


@hr_admin_required
@require_safe
def progress_by_state_csv(request):
    return _report_csv(
        request,
        "progress-by-state",
        reports.PROGRESS_BY_STATE_COLUMNS,
        lambda filters: reports.progress_state_csv_rows(filters, reports.progress_by_state(filters)),
    )


@hr_admin_required
@require_safe
def progress_by_service_csv(request):
    return _report_csv(
        request,
        "progress-by-service",
        reports.PROGRESS_BY_COLUMNS["service"],
        lambda filters: reports.progress_by_csv_rows(filters, reports.progress_by(filters, "service")),
    )


@hr_admin_required
@require_safe
def progress_by_manager_csv(request):
    return _report_csv(
        request,
        "progress-by-manager",
        reports.PROGRESS_BY_COLUMNS["manager"],
        lambda filters: reports.progress_by_csv_rows(filters, reports.progress_by(filters, "manager")),
    )


@hr_admin_required
@require_safe
def standing_csv(request):
    return _report_csv(
        request,
        "standing",
        reports.STANDING_COLUMNS,
        lambda filters: reports.standing_csv_rows(filters, reports.standing_heatmap(filters)),
    )


@hr_admin_required
@require_safe
def below_entry_csv(request):
    return _report_csv(
        request,
        "below-entry",
        reports.BELOW_ENTRY_COLUMNS,
        lambda filters: reports.below_entry_csv_rows(filters, reports.below_entry(filters)),
    )
