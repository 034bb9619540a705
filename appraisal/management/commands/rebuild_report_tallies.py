"""Count the organisation report's tallies again from the records (`appraisal.tallies`): after records
were changed outside the application (a database shell, a restore of part of the data). The worker
does the same check nightly ("check report tallies")."""

from django.core.management.base import BaseCommand

from appraisal.tallies import rebuild


class Command(BaseCommand):
    help = "Count the organisation report's tallies again from the appraisal records, and mend any difference."

    def handle(self, *args, **options):
        differing = rebuild()
        self.stdout.write(
            f"The report's tallies differed from the records in {differing} place(s); mended."
            if differing
            else "The report's tallies match the records."
        )
