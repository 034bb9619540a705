from core.access import is_hr_admin, is_unverified_hr_admin
from staff.access import is_line_manager, staff_member_for


def navigation(request):
    """What the navigation shows depends on who is logged in."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    staff_member = staff_member_for(user)
    return {
        "nav_is_hr_admin": is_hr_admin(user),
        "nav_is_unverified_hr_admin": is_unverified_hr_admin(user),
        "nav_is_line_manager": is_line_manager(user),
        "nav_staff_member": staff_member,
    }
