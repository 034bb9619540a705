"""The long forms: the appraiser's scoring page and the person's self-assessment. Both read
`appraisal.selectors.appraisal_sheet` and save a draft through `appraisal.services.scoring`; what was
typed is never lost (`appraisal.drafts`, and a stale save shows it beside what is saved now)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from appraisal import drafts
from appraisal.access import get_appraisal_with_permissions
from appraisal.forms import SheetForm
from appraisal.permissions import STEPS, Action
from appraisal.selectors import appraisal_sheet
from appraisal.services import scoring
from appraisal.services.revisions import StaleRecord
from core.forms import add_validation_error


def _sheet_view(request, pk, *, for_self: bool):
    appraisal, permissions = get_appraisal_with_permissions(request.user, pk)
    action = Action.SELF_ASSESS if for_self else Action.SCORE
    permissions.require_party(
        action,
        refusal="Only the person appraised fills in the self-assessment."
        if for_self
        else "Only the appraiser scores the appraisal.",
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
                    **{
                        name: form.cleaned_data[name]
                        for name in ("meeting_date", "objectives", "development_plan", "manager_comments")
                    },
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
