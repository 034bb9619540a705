"""Remove what has expired: login sessions, input kept for people who never came back for it, and
failed logins too old to count. Run it daily (docs/operations.md)."""

from importlib import import_module

from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.management.base import BaseCommand
from django.utils import timezone

from appraisal import drafts
from staff import login


class Command(BaseCommand):
    help = "Remove expired sessions, expired kept form input and failed logins older than the throttling window."

    def handle(self, *args, **options):
        sessions = Session.objects.filter(expire_date__lt=timezone.now()).count()
        import_module(settings.SESSION_ENGINE).SessionStore.clear_expired()
        kept = drafts.clear_expired()
        failures = login.clear_old_failures()
        self.stdout.write(
            f"Removed {sessions} expired session{'' if sessions == 1 else 's'}, {kept} kept "
            f"form{'' if kept == 1 else 's'} "
            f"and {failures} old failed login{'' if failures == 1 else 's'}."
        )
