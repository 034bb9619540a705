"""Appraisal pages. Each view finds the appraisal through `get_appraisal_for` (404 outside the
viewer's scope), calls one service, and redirects; the services refuse what the viewer may not do."""

from collections import Counter

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_http_methods, require_safe

from appraisal import drafts
from appraisal.services import cycles, scoring, workflow
from appraisal.services.revisions import StaleRecord
from appraisal.access import get_appraisal_with_permissions, visible_appraisals
from appraisal.forms import CountersignForm, CycleForm, ReasonForm, ReassignForm, SheetForm, SignOffForm
from appraisal.models import Appraisal, AppraisalCycle
from appraisal.pdf import render_appraisal_pdf
from appraisal.permissions import STEPS, Action, Permissions
from appraisal.selectors import appraisal_sheet, not_appraised
from core.access import hr_admin_required
from staff.access import hr_conflicts, staff_member_for
from core.forms import add_validation_error

State = Appraisal.State


# --- cycles (HR admins) ---------------------------------------------------------------------------


@hr_admin_required
@require_safe
def cycle_list(request):
    cycles = AppraisalCycle.objects.annotate(appraisal_count=Count("appraisals"))
    return render(request, "appraisal/cycle_list.html", {"cycles": cycles})


@hr_admin_required
@require_http_methods(["GET", "POST"])
def cycle_create(request):
    form = CycleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            cycle = cycles.create_cycle(by=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_validation_error(form, error)
        else:
            messages.success(request, f"{cycle} created. Open it when you are ready to create everyone's appraisal.")
            return redirect("cycle_detail", cycle.pk)
    return render(request, "appraisal/cycle_form.html", {"form": form})


@hr_admin_required
@require_safe
def cycle_detail(request, pk):
    cycle = get_object_or_404(AppraisalCycle, pk=pk)
    hidden = hr_conflicts(request.user)  # their own record and those of the people above them
    appraisals = list(
        cycle.appraisals.select_related("staff_member__user", "appraiser__user", "role_version").order_by(
            "staff_member__user__last_name", "staff_member__user__first_name"
        )
    )
    shown = [appraisal for appraisal in appraisals if appraisal.staff_member_id not in hidden]
    counts = Counter(appraisal.state for appraisal in shown)
    states = [{"state": state, "count": counts.get(state.value, 0)} for state in State]
    return render(
        request,
        "appraisal/cycle_detail.html",
        {
            "cycle": cycle,
            "appraisals": shown,
            "states": states,
            "not_appraised": not_appraised(cycle),
            "hidden": len(appraisals) - len(shown),
        },
    )


@hr_admin_required
@require_POST
def cycle_open(request, pk):
    cycle = get_object_or_404(AppraisalCycle, pk=pk)
    result = cycles.open_cycle(by=request.user, cycle=cycle)
    messages.success(request, f"{len(result.created)} appraisal(s) created.")
    if result.not_appraised:
        messages.warning(request, f"{len(result.not_appraised)} member(s) of staff could not be given an appraisal: see the list below.")
    return redirect("cycle_detail", cycle.pk)


# --- the record -----------------------------------------------------------------------------------


@login_required
@require_safe
def appraisal_list(request):
    """The viewer's own appraisals, and those they conduct."""
    person = staff_member_for(request.user)
    rows = visible_appraisals(request.user).select_related("cycle", "staff_member__user", "appraiser__user", "role_version")
    own, to_conduct = [], []
    if person is not None:
        for appraisal in rows.filter(staff_member=person) | rows.filter(appraiser=person):
            (own if appraisal.staff_member_id == person.pk else to_conduct).append(appraisal)
    return render(request, "appraisal/appraisal_list.html", {"own": own, "to_conduct": to_conduct})


def _record_context(request, appraisal, permissions: Permissions, **extra) -> dict:
    context = {
        "appraisal": appraisal,
        "permissions": permissions,
        "sheet": appraisal_sheet(appraisal),
        "events": appraisal.events.select_related("by"),
        "next_step": next_step(appraisal),
    }
    if permissions.may_sign_off:
        context["sign_off_form"] = extra.pop("sign_off_form", None) or SignOffForm(initial={"revision": appraisal.revision})
    if permissions.may_countersign:
        context["countersign_form"] = extra.pop("countersign_form", None) or CountersignForm(initial={"revision": appraisal.revision})
    context.update(extra)
    return context


def next_step(appraisal: Appraisal) -> str:
    """Who must act next, in words."""
    return {
        State.SELF_ASSESSMENT: f"{appraisal.staff_member} completes their self-assessment.",
        State.MANAGER_REVIEW: f"{appraisal.appraiser} scores the appraisal, holds the meeting and shares the record.",
        State.AWAITING_SIGN_OFF: f"{appraisal.staff_member} reads the record, comments and signs it off.",
        State.AWAITING_COUNTERSIGN: f"{appraisal.appraiser} countersigns the record.",
        State.COMPLETED: "Nobody: the record is complete and locked.",
    }[State(appraisal.state)]


@login_required
@require_safe
def appraisal_detail(request, pk):
    appraisal, permissions = get_appraisal_with_permissions(request.user, pk)
    return render(request, "appraisal/appraisal_detail.html", _record_context(request, appraisal, permissions))


@login_required
@require_safe
def appraisal_pdf(request, pk):
    appraisal, permissions = get_appraisal_with_permissions(request.user, pk)
    permissions.require_party(Action.DOWNLOAD_PDF)
    response = HttpResponse(render_appraisal_pdf(appraisal), content_type="application/pdf")
    filename = f"appraisal-{appraisal.pk}-{appraisal.staff_member.user.username}.pdf"
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


# --- the long forms -------------------------------------------------------------------------------


def _sheet_view(request, pk, *, for_self: bool):
    appraisal, permissions = get_appraisal_with_permissions(request.user, pk)
    action = Action.SELF_ASSESS if for_self else Action.SCORE
    permissions.require_party(
        action, refusal="Only the person appraised fills in the self-assessment." if for_self else "Only the appraiser scores the appraisal."
    )
    if not permissions.may(action):
        messages.info(request, f"This appraisal is at “{appraisal.get_state_display()}”, so that form is closed.")
        return redirect("appraisal", appraisal.pk)
    sheet = appraisal_sheet(appraisal)
    data = request.POST if request.method == "POST" else drafts.take(request)
    form = SheetForm(data, sheet=sheet, appraisal=appraisal, for_self=for_self)
    conflict = None
    if request.method == "POST" and form.is_valid():
        try:
            if for_self:
                scoring.save_self_assessment(
                    by=request.user,
                    appraisal=appraisal,
                    permissions=permissions,
                    revision=form.cleaned_data["revision"],
                    ratings=form.ratings(),
                    comments=form.cleaned_data["self_assessment_comments"],
                )
            else:
                scoring.save_review(
                    by=request.user,
                    appraisal=appraisal,
                    permissions=permissions,
                    revision=form.cleaned_data["revision"],
                    ratings=form.ratings(),
                    overrides=form.overrides(),
                    measures=form.measures(),
                    **{name: form.cleaned_data[name] for name in ("meeting_date", "objectives", "development_plan", "manager_comments")},
                )
        except StaleRecord as stale:
            conflict = stale.message
            if not STEPS[action].is_open_in(stale.appraisal.state):
                messages.error(request, conflict)
                return redirect("appraisal", appraisal.pk)
            # Keep the user's input; show what is saved now beside it; a second save is deliberate.
            appraisal, permissions = get_appraisal_with_permissions(request.user, pk)
            sheet = appraisal_sheet(appraisal)
            data = request.POST.copy()
            data["revision"] = str(appraisal.revision)
            form = SheetForm(data, sheet=sheet, appraisal=appraisal, for_self=for_self)
            form.is_valid()
        except ValidationError as error:
            add_validation_error(form, error)
        else:
            messages.success(request, "Draft saved.")
            if request.POST.get("then") == "record":
                return redirect(reverse("appraisal", args=[appraisal.pk]) + "#actions")
            anchor = request.POST.get("anchor", "")
            return redirect(request.path + (f"#{anchor}" if anchor.replace("-", "").isalnum() else ""))
    context = {
        "appraisal": appraisal,
        "form": form,
        "kept_for": drafts.form_token(request),
        "rows": form.rows(conflict=bool(conflict)),
        "for_self": for_self,
        "conflict": conflict,
        "revision_value": form.value("revision") or appraisal.revision,
        "error_links": form.error_links(),
    }
    if for_self:
        context["self_comments"] = form.value("self_assessment_comments")
    else:
        context.update(form.record_fields(), measure_rows=form.measure_rows())
    return render(request, "appraisal/sheet_form.html", context)


@drafts.keeps_unsaved_input
@login_required
@require_http_methods(["GET", "POST"])
def appraisal_review(request, pk):
    """The appraiser's scoring page."""
    return _sheet_view(request, pk, for_self=False)


@drafts.keeps_unsaved_input
@login_required
@require_http_methods(["GET", "POST"])
def appraisal_self_assessment(request, pk):
    """The staff member's self-assessment."""
    return _sheet_view(request, pk, for_self=True)


# --- workflow steps -------------------------------------------------------------------------------


def _revision(request) -> int | None:
    try:
        return int(request.POST["revision"])
    except (KeyError, ValueError):
        return None


def _apply(request, appraisal, call, done: str, form=None):
    """Run one service call for a step on the record, then back to the record with what happened.

    A record that moved on (StaleRecord) is said in a message. A refusal of what was entered
    becomes the form's errors and returns None, for the caller to show the form again; without a
    form it is said in messages too.
    """
    try:
        call()
    except StaleRecord as stale:
        messages.error(request, stale.message)
    except ValidationError as error:
        if form is not None:
            add_validation_error(form, error)
            return None
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(request, done)
    return redirect("appraisal", appraisal.pk)


def _step(request, pk, step, done: str, **kwargs):
    appraisal, permissions = get_appraisal_with_permissions(request.user, pk)
    return _apply(
        request,
        appraisal,
        lambda: step(by=request.user, appraisal=appraisal, permissions=permissions, revision=_revision(request), **kwargs),
        done,
    )


@login_required
@require_POST
def submit_self_assessment(request, pk):
    return _step(request, pk, workflow.submit_self_assessment, "Self-assessment sent to your manager.")


@login_required
@require_POST
def begin_review(request, pk):
    return _step(request, pk, workflow.begin_review, "You can now score the appraisal; the self-assessment is closed.")


@login_required
@require_POST
def share(request, pk):
    return _step(request, pk, workflow.share, "Shared: the staff member has been asked to read and sign the record.")


@login_required
@require_POST
def withdraw(request, pk):
    return _step(request, pk, workflow.withdraw, "Taken back: you can change the record and share it again.")


@login_required
@require_POST
def sign_off(request, pk):
    appraisal, permissions = get_appraisal_with_permissions(request.user, pk)
    form = SignOffForm(request.POST)
    if form.is_valid():
        response = _apply(
            request,
            appraisal,
            lambda: workflow.sign_off(by=request.user, appraisal=appraisal, permissions=permissions, **form.cleaned_data),
            "Signed off. Your manager has been asked to countersign.",
            form,
        )
        if response:
            return response
    else:
        permissions.require_party(Action.SIGN_OFF, refusal="Only the person appraised signs off the record.")
    return render(request, "appraisal/appraisal_detail.html", _record_context(request, appraisal, permissions, sign_off_form=form), status=400)


@login_required
@require_POST
def countersign(request, pk):
    appraisal, permissions = get_appraisal_with_permissions(request.user, pk)
    form = CountersignForm(request.POST)
    if not form.is_valid():
        permissions.require_party(Action.COUNTERSIGN, refusal="Only the appraiser countersigns the record.")
        return render(
            request, "appraisal/appraisal_detail.html", _record_context(request, appraisal, permissions, countersign_form=form), status=400
        )
    return _apply(
        request,
        appraisal,
        lambda: workflow.countersign(
            by=request.user, appraisal=appraisal, permissions=permissions, revision=_revision(request), comments=form.cleaned_data["comments"]
        ),
        "Countersigned: the appraisal is complete.",
    )


@login_required
@require_http_methods(["GET", "POST"])
def reopen(request, pk):
    appraisal, permissions = get_appraisal_with_permissions(request.user, pk)
    permissions.require_party(Action.REOPEN, refusal="Only HR admins can reopen a completed record.")
    form = ReasonForm(request.POST or None, initial={"revision": appraisal.revision})
    if request.method == "POST" and form.is_valid():
        response = _apply(
            request,
            appraisal,
            lambda: workflow.reopen(by=request.user, appraisal=appraisal, permissions=permissions, **form.cleaned_data),
            "Reopened: the appraiser can change the record; it must be shared and signed again.",
            form,
        )
        if response:
            return response
    return render(request, "appraisal/reopen.html", {"appraisal": appraisal, "form": form})


@login_required
@require_http_methods(["GET", "POST"])
def reassign(request, pk):
    appraisal, permissions = get_appraisal_with_permissions(request.user, pk)
    permissions.require_party(Action.REASSIGN, refusal="Only HR admins can change who appraises someone.")
    form = ReassignForm(request.POST or None, appraisal=appraisal)
    if request.method == "POST" and form.is_valid():
        response = _apply(
            request,
            appraisal,
            lambda: workflow.reassign_appraiser(by=request.user, appraisal=appraisal, permissions=permissions, **form.cleaned_data),
            f"{form.cleaned_data['appraiser']} is now the appraiser.",
            form,
        )
        if response:
            return response
    return render(request, "appraisal/reassign.html", {"appraisal": appraisal, "form": form})
