"""Passwords: anyone changes their own; HR admins set a member of staff's (their first login)."""

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm, SetPasswordForm
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from core.access import hr_admin_required
from staff import accounts
from staff.access import require_hr_admin_over
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
