from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.shortcuts import render
from django.views.decorators.http import require_GET

from audit.models import AuditEntry
from core.access import hr_admin_required
from reports.people_filter import by_person, people_to_choose
from staff.access import hr_conflicts

PAGE_SIZE = 50


@hr_admin_required
@require_GET
def audit_log(request):
    """The audit trail, newest first, filtered by person, kind of record, record or action. Read only."""
    hidden = hr_conflicts(request.user)  # their own records and those of the people above them
    entries = AuditEntry.objects.exclude(person_id__in=hidden).select_related("actor", "person__user")
    filters = {
        "person": request.GET.get("person", ""),
        "object_type": request.GET.get("object_type", ""),
        "object_id": request.GET.get("object_id", ""),
        "action": request.GET.get("action", ""),
    }
    entries, person_error = by_person(entries, filters["person"], "person_id")
    if filters["object_type"]:
        entries = entries.filter(object_type=filters["object_type"])
    if filters["object_id"]:
        entries = entries.filter(object_id=filters["object_id"])
    if filters["action"]:
        entries = entries.filter(action=filters["action"])
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    query = urlencode({key: value for key, value in filters.items() if value})  # for the page links
    return render(
        request,
        "appraisal/audit_log.html",
        {
            "page": page,
            "hidden": bool(hidden),
            "person_error": person_error,
            "filters": filters,
            "query": query,
            "people": people_to_choose(hidden),
            "object_types": AuditEntry.objects.order_by("object_type").values_list("object_type", flat=True).distinct(),
            "actions": AuditEntry.objects.order_by("action").values_list("action", flat=True).distinct(),
        },
    )
