"""Make due what was recorded ahead: changes of line manager, and leavers' appraisals handed over.
Run it daily (docs/operations.md); running it again the same day changes nothing."""

from django.core.management.base import BaseCommand

from appraisal.leavers import apply_due_handovers


class Command(BaseCommand):
    help = "Apply changes of line manager and handovers of appraisals whose day has come."

    def handle(self, *args, **options):
        done = apply_due_handovers()
        self.stdout.write(
            f"{done['line managers']} change(s) of line manager and {done['appraisals']} appraisal handover(s) "
            "applied; "
            f"{done['left as they are']} appraisal(s) left for HR (see the log)."
        )
