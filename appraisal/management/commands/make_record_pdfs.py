"""Make the kept PDFs of completed records that have none (records completed before PDFs were kept,
or whose file was lost), in the background: a worker does them a batch at a time."""

from django.core.management.base import BaseCommand

from appraisal.record_pdfs import missing_ids
from core.tasks import enqueue


class Command(BaseCommand):
    help = "Queue the making of the missing PDFs of completed records (a worker makes them, 50 at a time)."

    def handle(self, *args, **options):
        count = missing_ids().count()
        if count:
            enqueue("make missing record pdfs", "appraisal.record_pdfs.make_missing", 0)
        self.stdout.write(
            f"{count} completed record{'' if count == 1 else 's'} without a kept PDF; queued for a worker."
        )
