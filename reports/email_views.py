"""HR admins' delivery log of the outbox: every email, its delivery, and sending one again."""

from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from core.access import hr_admin_required
from outbox import services
from outbox.models import Email
from reports.people_filter import by_person, people_to_choose
from staff.access import hr_conflicts
from staff.models import StaffMember

PAGE_SIZE = 50


def _visible(user):
    """The emails an HR admin may see: not those to themselves or to the people above them in line management."""
    hidden = hr_conflicts(user)
    users = StaffMember.objects.filter(pk__in=hidden).values("user_id")
    return Email.objects.exclude(user_id__in=users), hidden


@hr_admin_required
@require_GET
def email_log(request):
    """The outbox, newest first, filtered by person and status."""
    emails, hidden = _visible(request.user)
    filters = {"person": request.GET.get("person", ""), "status": request.GET.get("status", "")}
    errors = {}
    emails, person_error = by_person(emails, filters["person"], "user__staff_member__pk")
    if person_error:
        errors["person"] = person_error
    if filters["status"]:
        if filters["status"] not in Email.Status.values:
            errors["status"] = "Choose a status from the list."
            emails = emails.none()
        else:
            emails = emails.filter(status=filters["status"])
    page = Paginator(emails.select_related("user"), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "reports/email_log.html",
        {
            "page": page,
            "filters": filters,
            "errors": errors,
            "hidden": bool(hidden),
            "query": urlencode({key: value for key, value in filters.items() if value}),
            "statuses": Email.Status.choices,
            "people": people_to_choose(hidden),
        },
    )


@hr_admin_required
@require_POST
def email_resend(request, pk):
    emails, _hidden = _visible(request.user)
    email = emails.filter(pk=pk).first()
    if email is None:
        raise Http404("No such email.")
    try:
        outgoing = services.resend(by=request.user, email=email)
    except ValidationError as error:
        messages.error(request, error.messages[0])
    else:
        messages.success(request, f"“{outgoing.subject}” to {outgoing.recipient_list_display} will be sent again.")
    return redirect("email_log")
