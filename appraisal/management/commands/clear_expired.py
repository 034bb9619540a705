"""Remove what has expired: login sessions, input kept for people who never came back for it, and
failed logins too old to count. Run it daily (docs/operations.md)."""

from django.core.management.base import BaseCommand

from appraisal.jobs import clear_expired


class Command(BaseCommand):
    help = "Remove expired sessions, expired kept form input and failed logins older than the throttling window."

    def handle(self, *args, **options):
        removed = clear_expired()
        sessions, kept, failures = removed["sessions"], removed["kept input"], removed["failed logins"]
        self.stdout.write(
            f"Removed {sessions} expired session{'' if sessions == 1 else 's'}, {kept} kept "
            f"form{'' if kept == 1 else 's'} "
            f"and {failures} old failed login{'' if failures == 1 else 's'}."
        )
