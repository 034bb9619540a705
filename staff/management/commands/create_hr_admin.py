"""Create an HR admin login, e.g. the first one of a new installation:

    python manage.py create_hr_admin USERNAME [--email ADDRESS]

The password is asked for twice (or read from the environment variable HR_ADMIN_PASSWORD, for
scripts) and must pass the password validators.

An HR admin who has lost their second factor is reset by another HR admin, from their staff record;
when there is no other, by this command (audited, with no one as the actor):

    python manage.py create_hr_admin USERNAME --reset-second-factor
"""

import getpass
import os

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from staff import second_factor
from staff.accounts import create_hr_admin


class Command(BaseCommand):
    help = (
        "Create an HR admin login; the password is asked for (or taken from HR_ADMIN_PASSWORD). "
        "With --reset-second-factor, reset an existing login's second factor instead."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--email", default="")
        parser.add_argument(
            "--reset-second-factor",
            action="store_true",
            help="Remove this existing login's second factor (a lost phone), when no other HR admin can.",
        )

    def handle(self, *args, username, email, reset_second_factor=False, **options):
        if reset_second_factor:
            self._reset(username)
            return
        password = os.environ.get("HR_ADMIN_PASSWORD") or self._ask()
        try:
            user = create_hr_admin(username=username, email=email, password=password)
        except ValidationError as error:
            raise CommandError("Password refused: " + " ".join(error.messages)) from error
        except ValueError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"HR admin {user.username} created.")

    def _reset(self, username: str) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"There is no login named {username!r}.")
        if second_factor.reset(by=None, user=user):
            self.stdout.write(f"{username}'s second factor was reset: they set up a new one when they next sign in.")
        else:
            self.stdout.write(f"{username} has no second factor: nothing to reset.")

    def _ask(self) -> str:
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Password (again): "):
            raise CommandError("The two passwords differ.")
        return password
