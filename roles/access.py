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


def hr_conflicts(user) -> frozenset[int]:
    """Staff ids on whose records an HR admin has only the rights of the person: their own, and
    everyone above them in line management. Empty for anyone who is not an HR admin.

    An HR admin must not read their manager's unshared draft of their own appraisal, or their own
    manager's appraisal, or change who appraises them; another HR admin does that.
    """
    if not is_hr_admin(user):
        return frozenset()
    if not hasattr(user, "_hr_conflicts"):
        from roles.hierarchy import managers_above

        person = staff_member_for(user)
        if person is None:
            user._hr_conflicts = frozenset()
        else:
            above = managers_above(person.pk) if person.line_manager_id else set()
            user._hr_conflicts = frozenset({person.pk, *above})
    return user._hr_conflicts


def is_hr_admin_over(user, staff_member_id: int) -> bool:
    """Whether `user` has an HR admin's rights over the records of this member of staff."""
    return is_hr_admin(user) and staff_member_id not in hr_conflicts(user)


def hr_conflict_message(user, staff_member_id: int) -> str:
    """Why an HR admin may not do this to this person's records (see `hr_conflicts`)."""
    own = staff_member_for(user)
    whose = "your own record" if own is not None and own.pk == staff_member_id else "the record of someone above you in line management"
    return f"This is {whose}: another HR admin must do this."


def require_hr_admin_over(user, staff_member_id: int) -> None:
    """PermissionDenied (403) unless `user` is an HR admin with rights over this person's records."""
    if not is_hr_admin_over(user, staff_member_id):
        raise PermissionDenied(hr_conflict_message(user, staff_member_id) if is_hr_admin(user) else "Only HR admins can do this.")


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
