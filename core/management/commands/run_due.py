"""Do everything that is due now, in this process, and exit: scheduled work, queued emails, jobs.

For installations that prefer cron to a running worker (`* * * * * manage.py run_due`), and for
tests. A running worker (`manage.py qcluster`) does the same continuously.
"""

from django.core.management.base import BaseCommand

from core.tasks import run_due


class Command(BaseCommand):
    help = "Run the scheduled work that is due and every queued task (emails included), then exit."

    def handle(self, *args, **options):
        ran = run_due()
        self.stdout.write(f"{ran} task{'' if ran == 1 else 's'} run.")
