"""Logins: HR sets a person's password; anyone changes their own. Both go through Django's password
validators (settings.AUTH_PASSWORD_VALIDATORS) and are audited without the password itself."""

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import User
from django.db import transaction

from audit.trail import record
from core.access import HR_ADMIN_GROUP, make_hr_admin
from staff.access import staff_member_for
from staff.models import StaffMember


@transaction.atomic
def set_password(*, by, member: StaffMember, password: str) -> None:
    """HR sets `member`'s password (the form has validated it); their other sessions end."""
    user = member.user
    had_password = user.has_usable_password()
    user.set_password(password)
    user.save(update_fields=["password"])
    record(
        actor=by,
        action="set password",
        obj=member,
        person=member,
        changes={"password": ["set" if had_password else "none", "set"]},
    )


@transaction.atomic
def change_own_password(*, user: User, password: str) -> None:
    """The user changes their own password (the form has checked the old one and validated the new)."""
    user.set_password(password)
    user.save(update_fields=["password"])
    member = staff_member_for(user)
    record(
        actor=user, action="change password", obj=member or user, person=member, object_type=None if member else "login"
    )


@transaction.atomic
def create_hr_admin(*, username: str, email: str, password: str):
    """An HR admin login (the first one, on a new installation). Validates the password."""
    User = get_user_model()
    if User.objects.filter(username=username).exists():
        raise ValueError(f"A login named {username!r} already exists.")
    user = User(username=username, email=email)
    password_validation.validate_password(password, user)
    user.set_password(password)
    user.save()
    make_hr_admin(user)
    record(
        actor=None, action="create HR admin", obj=user, object_type="login", changes={"group": [None, HR_ADMIN_GROUP]}
    )
    return user
