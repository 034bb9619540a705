"""Who the logged-in user is to the organisation's staff: their staff record, whether they manage
anyone, and the records on which an HR admin has only the rights of the person.

Views ask these helpers; they never decide access by hiding links. Each answer is looked up once
per request (`core.requests.remembered`).
"""

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef

from core.access import Person, is_hr_admin
from core.requests import remembered
from staff.hierarchy import managers_above
from staff.models import StaffMember


def staff_member_for(user: Person) -> StaffMember | None:
    """The user's staff record, or None (an HR admin account need not be one)."""
    if not user.is_authenticated:
        return None
    return remembered(("staff_member", user.pk), lambda: _staff_member(user))


# The signed-in user is read with their staff record and this flag by the authentication backend
# (`staff.auth`), in the same query; other users (a command's, a test's) are read here.
REPORTS_FLAG = "staff_has_active_reports"
NAVIGATION_RELATED = ("service", "role_profile")  # what most pages need of the user's staff record


def has_active_reports(of: str = "pk") -> Exists:
    """An annotation: whether the staff member `of` (a reference to their id) line-manages anyone active."""
    return Exists(StaffMember.objects.active().filter(line_manager=OuterRef(of)))


def _staff_member(user: Person) -> StaffMember | None:
    if hasattr(user, REPORTS_FLAG) and get_user_model().staff_member.is_cached(user):  # type: ignore[arg-type]
        member: StaffMember | None = getattr(user, "staff_member", None)  # None when the user has no record
        if member is not None:
            member.has_active_reports = getattr(user, REPORTS_FLAG)  # type: ignore[attr-defined]
        return member
    member = (
        StaffMember.objects.select_related(*NAVIGATION_RELATED)
        .annotate(has_active_reports=has_active_reports())
        .filter(user=user)
        .order_by()  # one row: not the model's ordering by name
        .first()
    )
    return member


def hr_conflicts(user: Person) -> frozenset[int]:
    """Staff ids on whose records an HR admin has only the rights of the person: their own, and
    everyone above them in line management. Empty for anyone who is not an HR admin.

    An HR admin must not read their manager's unshared draft of their own appraisal, or their own
    manager's appraisal, or change who appraises them; another HR admin does that.
    """
    if not is_hr_admin(user):
        return frozenset()
    return remembered(("hr_conflicts", user.pk), lambda: _conflicts(staff_member_for(user)))


def _conflicts(person: StaffMember | None) -> frozenset[int]:
    if person is None:
        return frozenset()
    above = managers_above(person.pk) if person.line_manager_id else set()
    return frozenset({person.pk, *above})


def is_hr_admin_over(user: Person, staff_member_id: int) -> bool:
    """Whether `user` has an HR admin's rights over the records of this member of staff."""
    return is_hr_admin(user) and staff_member_id not in hr_conflicts(user)


def hr_conflict_message(user: Person, staff_member_id: int) -> str:
    """Why an HR admin may not do this to this person's records (see `hr_conflicts`)."""
    own = staff_member_for(user)
    whose = (
        "your own record"
        if own is not None and own.pk == staff_member_id
        else "the record of someone above you in line management"
    )
    return f"This is {whose}: another HR admin must do this."


def require_hr_admin_over(user: Person, staff_member_id: int) -> None:
    """PermissionDenied (403) unless `user` is an HR admin with rights over this person's records."""
    if not is_hr_admin_over(user, staff_member_id):
        raise PermissionDenied(
            hr_conflict_message(user, staff_member_id) if is_hr_admin(user) else "Only HR admins can do this."
        )


def is_line_manager(user: Person) -> bool:
    """True if the user currently line-manages at least one active member of staff."""
    staff_member = staff_member_for(user)
    return bool(staff_member and staff_member.has_active_reports)  # type: ignore[attr-defined]  # annotated by _staff_member
