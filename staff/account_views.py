"""Passwords: anyone changes their own, or sets a new one from an emailed link when they have
forgotten it; HR admins set a member of staff's (their first login)."""

from django import forms
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash, views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm, SetPasswordForm
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from core.access import hr_admin_required
from staff import accounts, password_reset
from staff.access import require_hr_admin_over
from staff.login import Throttled, client_ip
from staff.models import StaffMember


@login_required
@require_http_methods(["GET", "POST"])
def change_password(request):
    form = PasswordChangeForm(request.user, request.POST or None)
    if form.is_valid():
        accounts.change_own_password(user=request.user, password=form.cleaned_data["new_password1"])
        update_session_auth_hash(request, request.user)  # stay logged in here; other sessions end
        messages.success(request, "Your password was changed.")
        return redirect("home")
    return render(request, "registration/change_password.html", {"form": form})


@hr_admin_required
@require_http_methods(["GET", "POST"])
def staff_set_password(request, pk):
    member = get_object_or_404(StaffMember.objects.select_related("user"), pk=pk)
    require_hr_admin_over(
        request.user, member.pk
    )  # not their own, nor someone's above them: they could sign in as them
    form = SetPasswordForm(member.user, request.POST or None)
    if form.is_valid():
        accounts.set_password(by=request.user, member=member, password=form.cleaned_data["new_password1"])
        messages.success(
            request,
            f"A password was set for {member.name}. Give it to them privately; they can change it once logged in.",
        )
        return redirect("staff_detail", member.pk)
    return render(request, "roles/staff/set_password.html", {"form": form, "member": member})


class PasswordResetRequestForm(forms.Form):
    login = forms.CharField(
        label="Username or email address",
        max_length=password_reset.IDENTIFIER_LENGTH,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
    )


@never_cache
@require_http_methods(["GET", "POST"])
def request_password_reset(request):
    """ "Forgot password?": the same answer whatever was typed (staff/password_reset.py)."""
    form = PasswordResetRequestForm(request.POST or None)
    if form.is_valid():
        try:
            password_reset.request_reset(identifier=form.cleaned_data["login"], ip_address=client_ip(request))
        except Throttled as refusal:
            form.add_error(None, password_reset.throttled_message(refusal.wait))
            form.fields["login"].widget.attrs["aria-describedby"] = "reset-error"  # the message above the form
        else:
            return redirect("password_reset_done")
    return render(request, "registration/password_reset_form.html", {"form": form})


@require_GET
def password_reset_done(request):
    return render(
        request, "registration/password_reset_done.html", {"minutes": password_reset.link_lifetime_in_minutes()}
    )


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Django's: the link's token is moved into the session and out of the address (so that it is not
    sent on as a Referer), then checked again with the new password. A link for someone who has left,
    or whose login is inactive, is as bad as a forged one."""

    template_name = "registration/password_reset_confirm.html"
    success_url = reverse_lazy("login")

    def get_user(self, uidb64):
        user = super().get_user(uidb64)
        return user if user is not None and password_reset.may_reset(user) else None

    def form_valid(self, form):
        password_reset.reset_password(user=self.user, password=form.cleaned_data["new_password1"])
        del self.request.session[auth_views.INTERNAL_RESET_SESSION_TOKEN]
        messages.success(self.request, "Your password was changed. Log in with your new password.")
        return HttpResponseRedirect(self.get_success_url())
