"""Measure the background work at this database's size (seeded by seed_scale): bench/background.py."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from bench import background


class Command(BaseCommand):
    help = "Time opening a cycle (request and job), the outbox's delivery with two workers, and the reminder run."

    def add_arguments(self, parser):
        parser.add_argument(
            "--out", default=str(settings.BASE_DIR / "bench" / "background.json"), help="The JSON file to write."
        )

    def handle(self, *args, out, **options):
        rows = background.run(out=self.stdout.write)
        background.save(rows, Path(out))
        self.stdout.write("")
        self.stdout.write(background.table(rows))
