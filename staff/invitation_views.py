"""Invitations: HR invites one person, many at once (after a preview), or prints a set-up code; the person
sets their first password from the link or with the code, on public pages, and is signed in."""

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, password_validation
from django.contrib.auth.forms import SetPasswordForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from core.access import hr_admin_required
from core.confirm import Confirmation, is_confirmed, render_confirmation
from core.models import Job
from staff import invitations
from staff.models import StaffMember
from staff.views import staff_member_to_change

LISTED = 50  # people named on the preview of a bulk invitation; the rest are counted
BACKEND = "staff.auth.StaffBackend"


@hr_admin_required
@require_POST
def staff_invite(request, pk):
    """Invite one person, or send them a new invitation (the old link stops working)."""
    member = staff_member_to_change(request.user, pk)
    try:
        invitation = invitations.invite(by=request.user, member=member)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request,
            f"An invitation was emailed to {member.name} at {invitation.email}. The link works once, for "
            f"{_days()}; any earlier one no longer works.",
        )
    return redirect("staff_detail", member.pk)


@hr_admin_required
@require_http_methods(["GET", "POST"])
def staff_setup_code(request, pk):
    """GET: what a set-up code is, and a button to make one; after the POST, the code to print, shown once."""
    member = staff_member_to_change(request.user, pk)
    if request.method == "POST":
        try:
            invitation, code = invitations.print_code(by=request.user, member=member)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            return redirect("staff_detail", member.pk)
        # Kept in the session until the page shows it once: a reload does not show it again.
        request.session[_code_key(member)] = [invitations.code_display(code), invitation.expires_at.isoformat()]
        return redirect("staff_setup_code", member.pk)
    shown = request.session.pop(_code_key(member), None)
    context: dict[str, Any] = {
        "member": member,
        "refusal": invitations.refusal(member, by=request.user, kind="code"),
        "days": settings.INVITATION_DAYS,
    }
    if shown:
        context |= {
            "code": shown[0],
            "expires_at": forms.DateTimeField().to_python(shown[1]),
            "setup_url": settings.SITE_URL.rstrip("/") + reverse("invitation_code"),  # as the emails give it
        }
    response = render(request, "roles/staff/setup_code.html", context)
    response["Cache-Control"] = "no-store"
    return response


def _code_key(member: StaffMember) -> str:
    return f"setup_code_{member.pk}"


@hr_admin_required
@require_http_methods(["GET", "POST"])
def staff_invite_many(request):
    """Invite many people in one step, after a preview of who will be invited and who cannot be.

    Whom: `?cycle=<id>` the people in a cycle who cannot sign in; `?job=<id>` the people an import created;
    else everyone working here not yet invited."""
    selection, title, back_url = _selection(request)
    people = list(selection.order_by("user__last_name", "user__first_name", "pk"))
    will: list[tuple[StaffMember, str | None]] = []
    cannot: list[tuple[StaffMember, str | None]] = []
    for member in people:
        reason = invitations.refusal(member, by=request.user)
        (cannot if reason else will).append((member, reason))
    if request.method == "POST" and is_confirmed(request) and will:
        sent = invitations.invite_many(by=request.user, members=[member for member, _ in will])
        messages.success(
            request,
            f"{len(sent):,} invitation{pluralize(len(sent))} emailed. Each link works once, for {_days()}."
            + (f" {len(cannot):,} could not be invited: see the staff list." if cannot else ""),
        )
        return redirect(back_url)
    confirmation = Confirmation(
        title=title,
        action=request.get_full_path(),
        button=f"Invite {len(will):,} {'person' if len(will) == 1 else 'people'}",
        back_url=back_url,
        lead=f"Each person is emailed a link to set their password and sign in; it works once, for {_days()}.",
        breadcrumbs=[("Staff", reverse("staff_list"))],
    )
    if will:
        names = ", ".join(f"{member.name} ({member.user.email})" for member, _ in will[:LISTED])
        more = len(will) - LISTED
        confirmation.notified.append(f"Invited by email: {names}" + (f" and {more:,} more" if more > 0 else "") + ".")
    else:
        confirmation.blocking.append("There is nobody to invite by email.")
    if cannot:
        names = "; ".join(f"{member.name}: {reason}" for member, reason in cannot[:LISTED])
        more = len(cannot) - LISTED
        confirmation.incomplete.append(f"Not invited: {names}" + (f"; and {more:,} more" if more > 0 else "") + ".")
    return render_confirmation(request, confirmation)


def _selection(request: HttpRequest):
    members = StaffMember.objects.select_related("user")
    if cycle_id := _id(request, "cycle"):
        return (
            invitations.not_yet_invited(invitations.in_cycle(members, cycle_id)),
            "Invite the people in this cycle who cannot sign in?",
            reverse("cycle_detail", args=[cycle_id]),
        )
    if job_id := _id(request, "job"):
        job = get_object_or_404(Job, pk=job_id, kind="import staff")
        imported = members.filter(pk__in=job.result.get("staff_ids", []))
        return invitations.not_yet_invited(imported), "Invite everyone imported?", reverse("staff_list")
    return (
        invitations.not_yet_invited(members),
        "Invite everyone not yet invited?",
        reverse("staff_list"),
    )


def _id(request: HttpRequest, name: str) -> int | None:
    value = request.GET.get(name, "")
    return int(value) if value.isdigit() and len(value) < 12 else None


def _days() -> str:
    return f"{settings.INVITATION_DAYS} day{pluralize(settings.INVITATION_DAYS)}"


# The person's pages: public.


@never_cache
@require_http_methods(["GET", "POST"])
def invitation_accept(request, pk, token):
    """The link in the email: set a first password, then be signed in."""
    invitation = invitations.invitation_for_link(pk, token)
    if isinstance(invitation, invitations.Refused):
        return _refused(request, invitation)
    user = invitation.staff_member.user
    form = SetPasswordForm(user, request.POST or None)
    if form.is_valid():
        try:
            user = invitations.accept(invitation=invitation, password=form.cleaned_data["new_password1"])
        except ValidationError as error:
            return _refused(request, invitations.Refused(" ".join(error.messages)))
        return _signed_in(request, user)
    return render(request, "registration/invitation_accept.html", {"form": form, "member": invitation.staff_member})


class SetupCodeForm(forms.Form):
    """A username and set-up code, then the new password twice, checked by the password validators."""

    username = forms.CharField(max_length=150, label="Username")
    code = forms.CharField(max_length=20, label="Set-up code", help_text="As printed, for example ABCD-EFGH.")
    new_password1 = forms.CharField(
        label="New password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    new_password2 = forms.CharField(
        label="New password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    invitation = None

    def clean(self):
        data = super().clean() or {}
        username, code = data.get("username"), data.get("code")
        password1, password2 = data.get("new_password1"), data.get("new_password2")
        if not (username and code and password1 and password2):
            return data
        if password1 != password2:
            self.add_error("new_password2", "The two passwords are not the same.")
            return data
        found = invitations.invitation_for_code(username, code)
        if isinstance(found, invitations.Refused):
            raise ValidationError(f"{found.reason} Check both, or ask HR for a new set-up code.")
        try:
            password_validation.validate_password(password1, found.staff_member.user)
        except ValidationError as error:
            self.add_error("new_password1", error)
            return data
        self.invitation = found
        return data


@never_cache
@require_http_methods(["GET", "POST"])
def invitation_code(request):
    """Set up an account with a printed set-up code."""
    form = SetupCodeForm(request.POST or None)
    if form.is_valid() and form.invitation is not None:
        try:
            user = invitations.accept(invitation=form.invitation, password=form.cleaned_data["new_password1"])
        except ValidationError as error:
            return _refused(request, invitations.Refused(" ".join(error.messages)))
        return _signed_in(request, user)
    return render(request, "registration/invitation_code.html", {"form": form})


def _signed_in(request, user):
    login(request, user, backend=BACKEND)
    messages.success(request, "Your password is set and you are signed in. Welcome.")
    return redirect("home")


def _refused(request, refused: invitations.Refused):
    return render(
        request,
        "registration/invitation_refused.html",
        {"reason": refused.reason},
        status=404 if refused.forged else 200,
    )
