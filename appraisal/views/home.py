"""The home page: who you are to the organisation, your role, your line manager, and what is
waiting for you."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_safe

from appraisal.selectors import waiting_for
from staff.access import staff_member_for
from staff.models import StaffMember


@login_required
@require_safe
def home(request):
    staff_member = staff_member_for(request.user)
    # Read here, not set on the staff record, which this request's other questions share (core.requests).
    line_manager = (
        StaffMember.objects.select_related("user").get(pk=staff_member.line_manager_id)
        if staff_member is not None and staff_member.line_manager_id
        else None
    )
    role_version = staff_member.role_profile.current_version if staff_member and staff_member.role_profile else None
    return render(
        request,
        "roles/home.html",
        {
            "staff_member": staff_member,
            "line_manager": line_manager,
            "role_version": role_version,
            "waiting": waiting_for(staff_member),
        },
    )
