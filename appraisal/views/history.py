"""Competency history: a person's own at /my/history/, anyone's in the viewer's line (or, for HR
admins, anyone's) at /people/<pk>/history/; each also as a PDF. Outside that scope: 404."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe

from appraisal.access import get_person_for, is_self
from appraisal.history import person_history as history_of
from appraisal.history_cache import history_body
from appraisal.pdf import render_history_pdf
from roles.pdf import pdf_response
from staff.access import staff_member_for


def _own_id(user) -> int:
    person = staff_member_for(user)
    if person is None:
        raise Http404("Your account is not linked to a staff record.")
    return person.pk


def _own_record(user):
    return get_person_for(user, _own_id(user))


@login_required
@require_safe
def my_history(request):
    # The viewer's own record is loaded in full (get_person_for) only when the body must be rendered.
    body = history_body(_own_id(request.user), own=True, load_person=lambda: _own_record(request.user))
    return render(request, "appraisal/history.html", {"body": body, "own": True})


@login_required
@require_safe
def my_history_pdf(request):
    return _pdf(request, _own_record(request.user), reverse("my_history"))


@login_required
@require_safe
def person_history(request, pk):
    return _page(request, get_person_for(request.user, pk))


@login_required
@require_safe
def person_history_pdf(request, pk):
    return _pdf(request, get_person_for(request.user, pk), reverse("person_history", args=[pk]))


def _page(request, person):
    own = is_self(request.user, person)
    body = history_body(person.pk, own=own, load_person=lambda: person)
    return render(request, "appraisal/history.html", {"body": body, "person": person, "own": own})


def _pdf(request, person, page_url):
    return pdf_response(
        request,
        lambda: render_history_pdf(history_of(person)),
        filename=f"competency-history-{person.user.username}.pdf",
        page_url=page_url,
    )
