"""The long forms: the appraiser's scoring page and the person's self-assessment. Both read
`appraisal.selectors.appraisal_sheet` and save a draft through `appraisal.services.scoring`; what was
typed is never lost (`appraisal.drafts`, and a stale save shows it beside what is saved now)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from appraisal import drafts
from appraisal.access import PAGE_RELATED, SAVE_RELATED, get_appraisal_with_permissions
from appraisal.forms import SheetForm
from appraisal.permissions import STEPS, Action
from appraisal.selectors import appraisal_sheet
from appraisal.services import scoring
from appraisal.services.revisions import StaleRecord
from core.forms import add_validation_error


def _party_to(request, pk, *, for_self: bool, related=PAGE_RELATED):
    """The appraisal, the user's permissions on it and the form's action, if the form is theirs (else 404/403)."""
    appraisal, permissions = get_appraisal_with_permissions(request.user, pk, related=related)
    action = Action.SELF_ASSESS if for_self else Action.SCORE
    permissions.require_party(
        action,
        refusal="Only the person appraised fills in the self-assessment."
        if for_self
        else "Only the appraiser scores the appraisal.",
    )
    return appraisal, permissions, action


def _sheet_view(request, pk, *, for_self: bool):
    appraisal, permissions, action = _party_to(request, pk, for_self=for_self)
    if not permissions.may(action):
        messages.info(request, f"This appraisal is at “{appraisal.get_state_display()}”, so that form is closed.")
        return redirect("appraisal", appraisal.pk)
    sheet = appraisal_sheet(appraisal)
    data = request.POST if request.method == "POST" else drafts.take(request)
    form = SheetForm(data, sheet=sheet, appraisal=appraisal, for_self=for_self)
    conflict = None
    if request.method == "POST" and form.is_valid():
        try:
            _save(request, form, appraisal, permissions, for_self=for_self)
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
            # The form is read against the record as saved now: unchanged, the save changed nothing.
            messages.success(
                request, "Draft saved." if form.has_changed() else "No changes to save: the draft was already saved."
            )
            if request.POST.get("then") == "record":
                return redirect(reverse("appraisal", args=[appraisal.pk]) + "#actions")
            anchor = request.POST.get("anchor", "")
            return redirect(request.path + (f"#{anchor}" if anchor.replace("-", "").isalnum() else ""))
    rows = form.rows(conflict=bool(conflict))
    context = {
        "appraisal": appraisal,
        "form": form,
        "kept_for": drafts.form_token(request),
        "rows": rows,
        "rated": sum(row["rated"] for row in rows),
        "total": sum(row["total"] for row in rows),
        "autosave_url": reverse(
            "appraisal_self_assessment_autosave" if for_self else "appraisal_review_autosave", args=[appraisal.pk]
        ),
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


def _save(request, form: SheetForm, appraisal, permissions, *, for_self: bool, autosave: bool = False) -> None:
    """Save the page's form through the service (StaleRecord, ValidationError as it raises them), with the
    competencies and ratings the form was checked against (the revision check makes sure they are current)."""
    scored = [competency.scored for competency in form.sheet.competencies]
    if for_self:
        scoring.save_self_assessment(
            by=request.user,
            appraisal=appraisal,
            permissions=permissions,
            revision=form.cleaned_data["revision"],
            ratings=form.ratings(),
            comments=form.cleaned_data["self_assessment_comments"],
            autosave=autosave,
            scored=scored,
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
            autosave=autosave,
            scored=scored,
            measure_rows={item["measure"].pk: (item["measure"].text, item["review"]) for item in form.sheet.measures},
            **{
                name: form.cleaned_data[name]
                for name in ("meeting_date", "objectives", "development_plan", "manager_comments")
            },
        )


def _autosave(request, pk, *, for_self: bool) -> JsonResponse:
    """What the page's script sends a moment after each change: the whole form, saved as the Save button
    saves it (the same service, the same revision check). Answers JSON: the new revision and time, and
    each competency's progress and derived level; or why nothing was saved."""
    appraisal, permissions, action = _party_to(request, pk, for_self=for_self, related=SAVE_RELATED)
    if not permissions.may(action):
        return _not_saved(f"This appraisal is now at “{appraisal.get_state_display()}”, so the form is closed.", 409)
    sheet = appraisal_sheet(appraisal, references=False)  # to check and save the form; the page shows the rest
    form = SheetForm(request.POST, sheet=sheet, appraisal=appraisal, for_self=for_self)
    if not form.is_valid():
        problems = [f"{link['label']}: {link['message']}" for link in form.error_links()]
        if form.has_error("revision"):
            problems.append("the form was incomplete; reload the page")
        return _not_saved("Check " + "; ".join(problems or ["the fields marked on the page"]) + ".", 400)
    try:
        _save(request, form, appraisal, permissions, for_self=for_self, autosave=True)
    except StaleRecord as stale:
        return _not_saved(stale.message + " Reload the page to see what is saved now.", 409, conflict=True)
    except ValidationError as error:
        return _not_saved(" ".join(error.messages), 400)
    return JsonResponse(feedback(appraisal, sheet, form, for_self=for_self))


def _not_saved(message: str, status: int, *, conflict: bool = False) -> JsonResponse:
    return JsonResponse({"saved": False, "conflict": conflict, "message": message}, status=status)


def feedback(appraisal, sheet, form: SheetForm, *, for_self: bool) -> dict:
    """After a save: each competency's ratings given (of its indicators) and its level as derived on the
    server (`appraisal.rules.derive_level`, by the save, on the sheet's competencies), and the whole form's."""
    ratings = form.ratings()
    competencies = []
    for competency in sheet.competencies:
        ids = [row.indicator.pk for level in competency.levels for row in level.indicators]
        scored = competency.scored  # its levels derived again by the save
        level = scored.self_level if for_self else scored.derived_level
        competencies.append(
            {
                "id": competency.scored.competency_id,
                "rated": sum(1 for pk in ids if ratings[pk][0]),
                "total": len(ids),
                "level": scored.level_label(level),
            }
        )
    return {
        "saved": True,
        "revision": appraisal.revision,
        "saved_at": timezone.localtime(appraisal.updated_at).strftime("%H:%M"),
        "rated": sum(item["rated"] for item in competencies),
        "total": sum(item["total"] for item in competencies),
        "competencies": competencies,
    }


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


@login_required  # signed out: the script sees the login page, and says to press Save draft (its input is kept)
@require_POST
def appraisal_review_autosave(request, pk):
    """The scoring page's autosave (its script; the page works without it)."""
    return _autosave(request, pk, for_self=False)


@login_required
@require_POST
def appraisal_self_assessment_autosave(request, pk):
    """The self-assessment's autosave (its script; the page works without it)."""
    return _autosave(request, pk, for_self=True)
