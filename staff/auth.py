"""Who may be signed in: Django's ModelBackend, less anyone whose employment has ended.

A leaver's last day of employment (`StaffMember.left_on`) is their last day with a login. From the
day after, the backend refuses them at sign-in and, because Django asks the backend for the user
on every request (`get_user`), every session they still have stops working: nothing has to run on
the day, and a leaving date set weeks ahead takes effect on its own. Whatever rights came from
their position (line manager, appraiser, HR admin) go with the login.
"""

import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from core.access import HR_ADMIN_FLAG, hr_admin_flag
from staff.access import NAVIGATION_RELATED, REPORTS_FLAG, has_active_reports
from staff.models import StaffMember

# Set on the request when the right password was given for someone who has left, so that the login
# form can say why (never for a wrong password: that would tell a stranger who has left).
LEFT_ON_ATTRIBUTE = "login_refused_left_on"


def left_on_annotation():
    return Subquery(StaffMember.objects.filter(user=OuterRef("pk")).values("left_on")[:1])


def has_left(user) -> bool:
    """Whether the user's employment ended before today (their last day is still a working day)."""
    if not hasattr(user, "staff_left_on"):
        user.staff_left_on = StaffMember.objects.filter(user=user).values_list("left_on", flat=True).first()
    return user.staff_left_on is not None and user.staff_left_on < timezone.localdate()


class StaffBackend(ModelBackend):
    def user_can_authenticate(self, user) -> bool:
        return super().user_can_authenticate(user) and not has_left(user)

    def authenticate(self, request, username=None, password=None, **kwargs):
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None and request is not None and username is not None and password:
            candidate = (
                get_user_model()
                ._default_manager.annotate(staff_left_on=left_on_annotation())
                .filter(**{get_user_model().USERNAME_FIELD: username})
                .first()
            )
            # The password is checked again only for a leaver (they are refused for having left).
            if candidate is not None and has_left(candidate) and candidate.check_password(password):
                setattr(request, LEFT_ON_ATTRIBUTE, candidate.staff_left_on)
        return user

    def get_user(self, user_id):
        """The signed-in user, or None once they have left: read in one query with their staff record
        (their leaving date; what the navigation shows) and whether they are an HR admin or manage anyone
        (`staff.access.staff_member_for`, `core.access.is_hr_admin` use these)."""
        user = (
            get_user_model()
            ._default_manager.select_related(*(f"staff_member__{name}" for name in NAVIGATION_RELATED))
            .annotate(**{HR_ADMIN_FLAG: hr_admin_flag(), REPORTS_FLAG: has_active_reports("staff_member__pk")})
            .filter(pk=user_id)
            .first()
        )
        if user is not None:
            member = getattr(user, "staff_member", None)  # None for an account without a staff record
            user.staff_left_on = member.left_on if member is not None else None  # type: ignore[attr-defined]
        return user if user is not None and self.user_can_authenticate(user) else None


def left_message(left_on: datetime.date) -> str:
    return (
        f"Your access ended after your last day of employment, {left_on.day} {left_on:%B %Y}. "
        "If that is wrong, contact HR."
    )
