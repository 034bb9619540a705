"""An organisation at scale for the benchmark: `python manage.py seed_scale --staff 5000 --years 5`.

Refuses to run on a database that already holds staff records (the generated people would mix with
real ones) unless given --force. See bench/scale.py for what is created.
"""

import time

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from bench.scale import seed_scale
from staff.models import StaffMember


class Command(BaseCommand):
    help = (
        "Create a large organisation with years of completed appraisals and one open cycle, for the benchmark "
        "(logins hr, head, manager, staff; password demo). Use on an empty database."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--staff", type=int, default=200, help="Active members of staff (leavers come on top). Default 200."
        )
        parser.add_argument(
            "--years", type=int, default=5, help="Completed annual cycles before the open one. Default 5."
        )
        parser.add_argument("--seed", type=int, default=1, help="Seed of the pseudo-random choices. Default 1.")
        parser.add_argument(
            "--force", action="store_true", help="Run even though the database already holds staff records."
        )

    def handle(self, *args, staff, years, seed, force, **options):
        if staff < 20:
            raise CommandError("--staff must be at least 20 (two services with a team each).")
        if years < 1:
            raise CommandError("--years must be at least 1.")
        if StaffMember.objects.exists() and not force:
            raise CommandError(
                "This database already holds staff records. seed_scale is for an empty database (a benchmark's); "
                "give --force to add the generated organisation anyway."
            )
        call_command("load_framework", verbosity=0)
        summary = seed_scale(staff=staff, years=years, seed=seed, out=self.stdout.write)
        started = time.monotonic()
        settle()
        self.stdout.write(f"Statistics gathered and tables vacuumed ({time.monotonic() - started:.1f} s)")
        self.stdout.write(
            self.style.SUCCESS(
                f"{summary.people} staff ({summary.leavers} leavers besides), {summary.cycles} cycles, "
                f"{summary.appraisals} appraisals, {summary.ratings} indicator ratings in {summary.seconds:.1f} s. "
                "Logins: hr, head, manager, staff (password: demo)."
            )
        )


def settle() -> None:
    """Leave the database as one that has been in use a while: the planner's statistics gathered,
    and on PostgreSQL the new rows vacuumed. Otherwise autovacuum starts on millions of new rows
    while the benchmark measures, taking a core of two, and plans rest on no statistics."""
    vacuum = connection.vendor == "postgresql" and not connection.in_atomic_block  # VACUUM cannot run in a transaction
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE)" if vacuum else "ANALYZE")
