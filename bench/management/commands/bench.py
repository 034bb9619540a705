"""Measure the key pages on this database (seeded by seed_scale): `python manage.py bench --size 5000`.

Writes (adds to) a JSON list of {"name", "size", "queries", "median_ms", "ratio"} and prints the
table of every size in it. `make bench` runs it at two sizes (docs/performance.md).
"""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from bench import measure as benchmark
from staff.models import StaffMember


class Command(BaseCommand):
    help = (
        "Measure queries and median server time of the key pages, PDFs and opening a cycle; write bench/results.json."
    )

    def add_arguments(self, parser):
        parser.add_argument("--size", type=int, help="The size to record (default: the number of active staff).")
        parser.add_argument(
            "--repeat", type=int, default=15, help="Requests per page (the median is kept). Default 15."
        )
        parser.add_argument("--pdf-repeat", type=int, default=5, help="Renders per PDF. Default 5.")
        parser.add_argument(
            "--only", default="", help="Comma-separated names of the measurements to take (default: all)."
        )
        parser.add_argument(
            "--out", default=str(settings.BASE_DIR / "bench" / "results.json"), help="The JSON file to add to."
        )

    def handle(self, *args, size, repeat, pdf_repeat, only, out, **options):
        size = size or StaffMember.objects.active().count()
        self.stdout.write(f"Measuring at size {size} ({settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]})")
        only = {name.strip() for name in only.split(",") if name.strip()} or None
        results = benchmark.run(size=size, repeat=repeat, pdf_repeat=pdf_repeat, only=only, out=self.stdout.write)
        rows = benchmark.save(results, Path(out))
        self.stdout.write("")
        self.stdout.write(benchmark.table(rows))
