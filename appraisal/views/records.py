"""The record: the list of the viewer's appraisals, an appraisal's page and its PDF. Each finds the
appraisal through `appraisal.access` (404 outside the viewer's scope) with what the viewer may see
and do (`appraisal.permissions`), which the page only reads."""

import logging

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe

from appraisal import record_pdfs
from appraisal.access import get_appraisal_with_permissions, visible_appraisals
from appraisal.forms import CountersignForm, DecideReferralForm, ReferForm, SignOffForm, TakeBackForm
from appraisal.models import Appraisal
from appraisal.pdf import render_appraisal_pdf
from appraisal.permissions import Action, Permissions
from appraisal.selectors import appraisal_sheet
from appraisal.services import workflow
from roles.pdf import pdf_response
from staff.access import staff_member_for

State = Appraisal.State

logger = logging.getLogger(__name__)


@login_required
@require_safe
def appraisal_list(request):
    """The viewer's own appraisals, and those they conduct."""
    person = staff_member_for(request.user)
    rows = visible_appraisals(request.user).select_related(
        "cycle", "staff_member__user", "appraiser__user", "role_version"
    )
    own: list[Appraisal] = []
    to_conduct: list[Appraisal] = []
    if person is not None:
        for appraisal in rows.filter(staff_member=person) | rows.filter(appraiser=person):
            (own if appraisal.staff_member_id == person.pk else to_conduct).append(appraisal)
    return render(request, "appraisal/appraisal_list.html", {"own": own, "to_conduct": to_conduct})


def record_context(appraisal: Appraisal, permissions: Permissions, **extra) -> dict:
    """What the record page shows: `extra` may hold a sign-off or countersignature form to show again."""
    context = {
        "appraisal": appraisal,
        "permissions": permissions,
        "sheet": appraisal_sheet(appraisal),
        "events": appraisal.events.select_related("by"),
        "next_step": next_step(appraisal),
    }
    if permissions.may_sign_off:
        context["sign_off_form"] = extra.pop("sign_off_form", None) or SignOffForm(
            initial={"revision": appraisal.revision}
        )
    revision = {"revision": appraisal.revision}
    if permissions.may_countersign:
        context["countersign_form"] = extra.pop("countersign_form", None) or CountersignForm(
            initial=revision, disagreement=appraisal.staff_agrees is False
        )
    if permissions.may_take_back:
        context["take_back_form"] = extra.pop("take_back_form", None) or TakeBackForm(initial=revision)
    if permissions.may_refer and appraisal.staff_agrees is False:
        context["refer_form"] = extra.pop("refer_form", None) or ReferForm(
            initial=revision, referee=workflow.referee_for(appraisal)
        )
    if permissions.may_decide_referral:
        context["decide_form"] = extra.pop("decide_form", None) or DecideReferralForm(initial=revision)
    context.update(extra)
    return context


def next_step(appraisal: Appraisal) -> str:
    """Who must act next, in words."""
    return {
        State.SELF_ASSESSMENT: f"{appraisal.staff_member} completes their self-assessment.",
        State.MANAGER_REVIEW: f"{appraisal.appraiser} scores the appraisal, holds the meeting and shares the record.",
        State.AWAITING_SIGN_OFF: f"{appraisal.staff_member} reads the record, comments and signs it off.",
        State.AWAITING_COUNTERSIGN: f"{appraisal.appraiser} countersigns the record."
        if appraisal.staff_agrees is not False
        else f"{appraisal.appraiser} considers {appraisal.staff_member}'s disagreement: countersigns noting it, "
        "takes the record back to discuss it, or refers it on.",
        State.REFERRED: f"{appraisal.referred_to or 'HR'} decides on the disagreement: completes the record or "
        "returns it for changes.",
        State.COMPLETED: "Nobody: the record is complete and locked.",
    }[State(appraisal.state)]


@login_required
@require_safe
def appraisal_detail(request, pk):
    appraisal, permissions = get_appraisal_with_permissions(request.user, pk)
    return render(request, "appraisal/appraisal_detail.html", record_context(appraisal, permissions))


@login_required
@require_safe
def appraisal_pdf(request, pk):
    appraisal, permissions = get_appraisal_with_permissions(request.user, pk)
    permissions.require_party(Action.DOWNLOAD_PDF)
    return pdf_response(
        request,
        lambda: _record_pdf(appraisal),
        filename=f"appraisal-{appraisal.pk}-{appraisal.staff_member.user.username}.pdf",
        page_url=reverse("appraisal", args=[appraisal.pk]),
    )


def _record_pdf(appraisal: Appraisal) -> bytes:
    """A completed record's kept PDF; made now (and kept) if its task has not run yet. Others are made each time."""
    pdf = record_pdfs.kept(appraisal)
    if pdf is None:
        pdf = render_appraisal_pdf(appraisal)
        if appraisal.state == Appraisal.State.COMPLETED:
            try:
                record_pdfs.keep(appraisal, pdf)
            except OSError:  # the storage is full or unwritable: serve it anyway, and say so in the log
                logger.exception("record pdf not kept appraisal=%s", appraisal.pk)
    return pdf
