"""`make bench`: seed an organisation at each size, measure it, load-test the history page.

Environment: BENCH_DB (postgres, the default: a throwaway PostgreSQL 15 server on 127.0.0.1 via
.ci/pg.sh; or sqlite: files in a temporary folder), BENCH_SIZES (default 200,20000; 5000 too if
named), BENCH_YEARS (completed cycles, default 5), BENCH_LOAD (1: run the load test at the largest
size; 0: skip it), BENCH_LOAD_SECONDS (default 20), BENCH_PG_PORT (default 55490),
BENCH_BACKGROUND_STAFF (the size at which the background work is timed: opening a cycle, the
outbox, reminders; default 20000, 0 skips it; on the database of that size if one was measured,
after its pages and the load test). Writes bench/results.json (and bench/load.json,
bench/background.json) and prints the tables. Every database it makes is thrown away at the end.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def manage(*args, url):
    subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env={**os.environ, "DATABASE_URL": url, "DEBUG": "0"}, check=True
    )


def main() -> int:
    database = os.environ.get("BENCH_DB", "postgres").lower()
    sizes = [int(size) for size in os.environ.get("BENCH_SIZES", "200,20000").split(",") if size.strip()]
    years = int(os.environ.get("BENCH_YEARS", "5"))
    load = os.environ.get("BENCH_LOAD", "1") not in ("0", "no", "off", "")
    seconds = os.environ.get("BENCH_LOAD_SECONDS", "20")
    if database not in ("postgres", "sqlite"):
        raise SystemExit("BENCH_DB is postgres or sqlite")
    results = ROOT / "bench" / ("results.json" if database == "postgres" else "results-sqlite.json")
    results.unlink(missing_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    pg_dir = Path(tempfile.mkdtemp(prefix="bench-pg-"))  # its own folder: the server's user must own it
    try:
        if database == "postgres":
            port = os.environ.get("BENCH_PG_PORT", "55490")
            base = subprocess.run(
                [str(ROOT / ".ci" / "pg.sh"), "start", str(pg_dir), port], check=True, capture_output=True, text=True
            ).stdout.strip()
            import psycopg2

            admin = psycopg2.connect(f"{base}/postgres")
            admin.autocommit = True
        # The pages link to static files by their hashed names, which DEBUG off reads from the manifest.
        subprocess.run(
            [PYTHON, "manage.py", "collectstatic", "--no-input", "-v0"],
            cwd=ROOT,
            env={**os.environ, "DEBUG": "0"},
            check=True,
        )
        urls = {}
        for size in sizes:
            if database == "postgres":
                with admin.cursor() as cursor:
                    cursor.execute(f"CREATE DATABASE bench_{size}")
                urls[size] = f"{base}/bench_{size}"
            else:
                urls[size] = f"sqlite:///{workdir}/bench_{size}.sqlite3"
            print(f"== {size} staff × {years} years ({database})", flush=True)
            manage("migrate", "--no-input", "-v0", url=urls[size])
            started = time.monotonic()
            manage("seed_scale", "--staff", str(size), "--years", str(years), url=urls[size])
            print(f"Seeded in {time.monotonic() - started:.0f} s", flush=True)
            manage("bench", "--size", str(size), "--out", str(results), url=urls[size])
        background = int(os.environ.get("BENCH_BACKGROUND_STAFF", "20000"))
        background_file = ROOT / "bench" / "background.json"
        background_file.unlink(missing_ok=True)
        load_ok = True
        if load and sizes:
            size = max(sizes)
            print(f"== Load test at {size} staff", flush=True)
            code = subprocess.run(
                [PYTHON, str(ROOT / "bench" / "load.py"), "--seconds", seconds, "--size", str(size)],
                cwd=ROOT,
                env={**os.environ, "DATABASE_URL": urls[size], "DEBUG": "0"},
            ).returncode
            load_ok = code == 0
        if background in urls:
            # The measured database of that size (its pages measured already): opening a cycle concerns the open one.
            print(f"== Background work at {background} staff × {years} years ({database})", flush=True)
            manage("bench_background", "--out", str(background_file), url=urls[background])
        elif background:
            # One year of records is enough for this: opening, emails and reminders concern the open cycle.
            if database == "postgres":
                with admin.cursor() as cursor:
                    cursor.execute("CREATE DATABASE bench_background")
                url = f"{base}/bench_background"
            else:
                url = f"sqlite:///{workdir}/bench_background.sqlite3"
            print(f"== Background work at {background} staff × 1 year ({database})", flush=True)
            manage("migrate", "--no-input", "-v0", url=url)
            started = time.monotonic()
            manage("seed_scale", "--staff", str(background), "--years", "1", url=url)
            print(f"Seeded in {time.monotonic() - started:.0f} s", flush=True)
            manage("bench_background", "--out", str(background_file), url=url)
        print(f"\n== Results ({results.relative_to(ROOT)})\n", flush=True)
        sys.path.insert(0, str(ROOT))
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        import django

        django.setup()
        from bench.measure import table

        print(table(json.loads(results.read_text())))
        if background_file.exists():
            from bench.background import table as background_table

            print(f"\n== Background work ({background_file.relative_to(ROOT)})\n")
            print(background_table(json.loads(background_file.read_text())))
        load_file = ROOT / "bench" / "load.json"
        if load and load_file.exists():
            figures = json.loads(load_file.read_text())
            print(
                f"\nLoad test ({figures['page']}, {figures['size']} staff, {figures['server']}; "
                f"{figures.get('generator', 'python')}, {figures['clients']} connections): "
                f"{figures['requests_per_second']} requests/s, {figures['errors']} errors, "
                f"{figures['requests']} requests in {figures['seconds']} s; median {figures['median_ms']} ms, "
                f"99th percentile {figures.get('p99_ms')} ms. Target: ≥ 150 requests/s, no errors."
            )
        return 0 if load_ok else 1
    finally:
        if database == "postgres":
            try:
                admin.close()
            except NameError:
                pass
            subprocess.run([str(ROOT / ".ci" / "pg.sh"), "stop", str(pg_dir)], check=False)
        else:
            pg_dir.rmdir()
        subprocess.run(["rm", "-rf", str(workdir)], check=False)


if __name__ == "__main__":
    sys.exit(main())
