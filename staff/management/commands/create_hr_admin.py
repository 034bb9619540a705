"""Create an HR admin login, e.g. the first one of a new installation:

    python manage.py create_hr_admin USERNAME [--email ADDRESS]

The password is asked for twice (or read from the environment variable HR_ADMIN_PASSWORD, for
scripts) and must pass the password validators.
"""

import getpass
import os

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from staff.accounts import create_hr_admin


class Command(BaseCommand):
    help = "Create an HR admin login; the password is asked for (or taken from HR_ADMIN_PASSWORD)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--email", default="")

    def handle(self, *args, username, email, **options):
        password = os.environ.get("HR_ADMIN_PASSWORD") or self._ask()
        try:
            user = create_hr_admin(username=username, email=email, password=password)
        except ValidationError as error:
            raise CommandError("Password refused: " + " ".join(error.messages)) from error
        except ValueError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"HR admin {user.username} created.")

    def _ask(self) -> str:
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Password (again): "):
            raise CommandError("The two passwords differ.")
        return password
