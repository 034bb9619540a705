"""Who the logged-in user is to the organisation: HR admin, line manager, member of staff.

Views ask these helpers; they never decide access by hiding links. Results are cached on the
user object for the request.
"""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef

HR_ADMIN_GROUP = "HR admin"


def is_hr_admin(user) -> bool:
    if not user.is_authenticated:
        return False
    if not hasattr(user, "_is_hr_admin"):
        user._is_hr_admin = user.groups.filter(name=HR_ADMIN_GROUP).exists()
    return user._is_hr_admin


def staff_member_for(user):
    """The user's staff record, or None (an HR admin account need not be one)."""
    if not user.is_authenticated:
        return None
    if not hasattr(user, "_staff_member"):
        from roles.models import StaffMember

        user._staff_member = (
            # Read on every page (the navigation): only what most pages need.
            StaffMember.objects.select_related("service", "role_profile")
            .annotate(has_active_reports=Exists(StaffMember.objects.active().filter(line_manager=OuterRef("pk"))))
            .filter(user=user)
            .order_by()  # one row: not the model's ordering by name
            .first()
        )
    return user._staff_member


def is_line_manager(user) -> bool:
    """True if the user currently line-manages at least one active member of staff."""
    staff_member = staff_member_for(user)
    return bool(staff_member and staff_member.has_active_reports)


def hr_admin_required(view):
    """Anonymous users go to the login page; logged-in users who are not HR admins get 403."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not is_hr_admin(request.user):
            raise PermissionDenied("Only HR admins can do this.")
        return view(request, *args, **kwargs)

    return wrapper


def ensure_hr_admin_group() -> Group:
    """The HR admin group. Membership is the whole grant: the app asks `is_hr_admin`, not Django permissions."""
    group, _ = Group.objects.get_or_create(name=HR_ADMIN_GROUP)
    return group


def make_hr_admin(user) -> None:
    user.groups.add(ensure_hr_admin_group())
