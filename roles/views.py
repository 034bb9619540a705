from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from roles.access import is_hr_admin, staff_member_for
from roles.models import StaffMember, published_versions_prefetch
from roles.selectors import competency_tables, current_role_profiles, current_version_for_page


@login_required
def home(request):
    staff_member = staff_member_for(request.user)
    role_version = staff_member.role_profile.current_version if staff_member and staff_member.role_profile else None
    return render(request, "roles/home.html", {"staff_member": staff_member, "role_version": role_version})


@login_required
def role_profile_list(request):
    profiles = current_role_profiles()
    return render(request, "roles/role_profile_list.html", {"profiles": profiles})


@login_required
def role_profile_detail(request, slug):
    version = current_version_for_page(slug)
    tables = competency_tables(version)
    return render(
        request,
        "roles/role_profile_detail.html",
        {"version": version, "tables": tables, "show_discrepancies": is_hr_admin(request.user)},
    )


@login_required
def team(request):
    """The line manager's direct reports and the roles they hold."""
    reports = (
        StaffMember.objects.active()
        .filter(line_manager__user=request.user)
        .select_related("user", "service", "role_profile")
        .prefetch_related(published_versions_prefetch("role_profile__versions"))
    )
    return render(request, "roles/team.html", {"reports": reports})
