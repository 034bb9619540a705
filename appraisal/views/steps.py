"""The steps of the workflow, each a POST from the record page (reopening and changing the appraiser
have a form of their own): one service call, then back to the record with what happened. The
service refuses what the viewer may not do (`appraisal.permissions`)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from appraisal import confirmations
from appraisal.access import get_appraisal_with_permissions
from appraisal.forms import (
    CountersignForm,
    DecideReferralForm,
    ReasonForm,
    ReassignForm,
    ReferForm,
    SignOffForm,
    TakeBackForm,
)
from appraisal.permissions import Action
from appraisal.services import workflow
from appraisal.services.revisions import StaleRecord
from appraisal.views.records import record_context
from core.confirm import is_confirmed, render_confirmation
from core.forms import add_validation_error


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


def _to_confirm(request, appraisal, permissions, action: Action) -> bool:
    """Whether to answer with the step's confirmation page: the viewer may take the step now, from the
    record as it is (a stale page or a refusal goes to the service, which says why), and has not yet
    confirmed it."""
    return permissions.may(action) and _revision(request) in (None, appraisal.revision) and not is_confirmed(request)


def _step(request, pk, step, done: str, *, confirm=None, **kwargs):
    """A step without a form of its own; `confirm` = (Action, builder of its Confirmation): the step is
    taken only from the confirmation page's POST (a viewer who may not take it is refused as before)."""
    appraisal, permissions = get_appraisal_with_permissions(request.user, pk)
    if confirm is not None and _to_confirm(request, appraisal, permissions, confirm[0]):
        return render_confirmation(request, confirm[1](appraisal).with_posted(request))
    return _apply(
        request,
        appraisal,
        lambda: step(
            by=request.user, appraisal=appraisal, permissions=permissions, revision=_revision(request), **kwargs
        ),
        done,
    )


@login_required
@require_POST
def submit_self_assessment(request, pk):
    return _step(
        request,
        pk,
        workflow.submit_self_assessment,
        "Self-assessment sent to your manager.",
        confirm=(Action.SUBMIT_SELF_ASSESSMENT, confirmations.submit_self_assessment),
    )


@login_required
@require_POST
def begin_review(request, pk):
    return _step(request, pk, workflow.begin_review, "You can now score the appraisal; the self-assessment is closed.")


@login_required
@require_POST
def share(request, pk):
    return _step(
        request,
        pk,
        workflow.share,
        "Shared: the staff member has been asked to read and sign the record.",
        confirm=(Action.SHARE, confirmations.share),
    )


@login_required
@require_POST
def withdraw(request, pk):
    return _step(request, pk, workflow.withdraw, "Taken back: you can change the record and share it again.")


@login_required
@require_POST
def sign_off(request, pk):
    appraisal, permissions = get_appraisal_with_permissions(request.user, pk)
    form = SignOffForm(request.POST)
    if form.is_valid() and (
        problem := workflow.sign_off_problem(form.cleaned_data["agrees"], form.cleaned_data["comments"])
    ):
        form.add_error("comments", problem)
    if form.is_valid():
        if _to_confirm(request, appraisal, permissions, Action.SIGN_OFF):
            confirmation = confirmations.sign_off(
                appraisal, agrees=form.cleaned_data["agrees"], comments=form.cleaned_data["comments"]
            )
            return render_confirmation(request, confirmation.with_posted(request))
        response = _apply(
            request,
            appraisal,
            lambda: workflow.sign_off(
                by=request.user, appraisal=appraisal, permissions=permissions, **form.cleaned_data
            ),
            "Signed off. Your manager has been asked to countersign.",
            form,
        )
        if response:
            return response
    else:
        permissions.require_party(Action.SIGN_OFF, refusal="Only the person appraised signs off the record.")
    return render(
        request,
        "appraisal/appraisal_detail.html",
        record_context(appraisal, permissions, sign_off_form=form),
        status=400,
    )


@login_required
@require_POST
def countersign(request, pk):
    appraisal, permissions = get_appraisal_with_permissions(request.user, pk)
    form = CountersignForm(request.POST, disagreement=appraisal.staff_agrees is False)
    if form.is_valid() and (problem := workflow.countersign_problem(appraisal, form.cleaned_data["comments"])):
        form.add_error("comments", problem)
    if not form.is_valid():
        permissions.require_party(Action.COUNTERSIGN, refusal="Only the appraiser countersigns the record.")
        return render(
            request,
            "appraisal/appraisal_detail.html",
            record_context(appraisal, permissions, countersign_form=form),
            status=400,
        )
    if _to_confirm(request, appraisal, permissions, Action.COUNTERSIGN):
        confirmation = confirmations.countersign(appraisal, comments=form.cleaned_data["comments"])
        return render_confirmation(request, confirmation.with_posted(request))
    return _apply(
        request,
        appraisal,
        lambda: workflow.countersign(
            by=request.user,
            appraisal=appraisal,
            permissions=permissions,
            revision=_revision(request),
            comments=form.cleaned_data["comments"],
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
            lambda: workflow.reassign_appraiser(
                by=request.user, appraisal=appraisal, permissions=permissions, **form.cleaned_data
            ),
            f"{form.cleaned_data['appraiser']} is now the appraiser.",
            form,
        )
        if response:
            return response
    return render(request, "appraisal/reassign.html", {"appraisal": appraisal, "form": form})


def _record_form_step(request, pk, action: Action, form_class, call, done: str, *, form_name: str, confirm=None):
    """A step taken with a form on the record page: the form's errors are shown there again (400);
    `confirm(appraisal, **cleaned_data)` builds its confirmation, when it has one."""
    appraisal, permissions = get_appraisal_with_permissions(request.user, pk)
    permissions.require_party(action)
    kwargs = {"referee": workflow.referee_for(appraisal)} if form_class is ReferForm else {}
    form = form_class(request.POST, **kwargs)
    if form.is_valid():
        fields = {name: value for name, value in form.cleaned_data.items() if name != "revision"}
        if confirm is not None and _to_confirm(request, appraisal, permissions, action):
            return render_confirmation(request, confirm(appraisal, **fields).with_posted(request))
        response = _apply(
            request,
            appraisal,
            lambda: call(
                by=request.user,
                appraisal=appraisal,
                permissions=permissions,
                revision=form.cleaned_data["revision"],
                **fields,
            ),
            done,
            form,
        )
        if response:
            return response
    return render(
        request,
        "appraisal/appraisal_detail.html",
        record_context(appraisal, permissions, **{form_name: form}),
        status=400,
    )


@login_required
@require_POST
def take_back(request, pk):
    return _record_form_step(
        request,
        pk,
        Action.TAKE_BACK,
        TakeBackForm,
        workflow.take_back,
        "Taken back to discuss: share the record again when you have talked it through.",
        form_name="take_back_form",
    )


@login_required
@require_POST
def refer(request, pk):
    return _record_form_step(
        request,
        pk,
        Action.REFER,
        ReferForm,
        workflow.refer,
        "Referred: they have been told, and so has the person.",
        form_name="refer_form",
    )


@login_required
@require_POST
def decide_referral(request, pk):
    return _record_form_step(
        request,
        pk,
        Action.DECIDE_REFERRAL,
        DecideReferralForm,
        workflow.decide_referral,
        "Decided: the person and the appraiser have been told.",
        form_name="decide_form",
        confirm=confirmations.decide_referral,
    )
