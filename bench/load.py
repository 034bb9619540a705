"""Load test: gunicorn (production settings, 4 workers) serving one page to clients on 127.0.0.1.

    DATABASE_URL=... .venv/bin/python bench/load.py [--seconds 20] [--workers 4] [--clients 8] [--path /my/history/]

Logs `--user` in by creating a session in the database (the login form is throttled, and the
session cookie is Secure), then runs `--clients` client threads in two processes, each sending
GET requests with `X-Forwarded-Proto: https` (as the TLS proxy in front of the app would) for
`--seconds`. Counts requests per second and errors (anything but 200, or no answer); writes
bench/load.json and prints one line. Bounded in time and only ever talks to 127.0.0.1.
"""

import argparse
import http.client
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_session(username: str) -> str:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.db import SessionStore

    from config.security import SEEN_KEY, STARTED_KEY

    user = get_user_model().objects.get(username=username)
    session = SessionStore()
    now = int(time.time())
    session.update({SESSION_KEY: str(user.pk), BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
                    HASH_SESSION_KEY: user.get_session_auth_hash(), STARTED_KEY: now, SEEN_KEY: now})
    session.save()
    return session.session_key


def _client(port, path, cookie, until, results, lock):
    headers = {"Cookie": f"sessionid={cookie}", "X-Forwarded-Proto": "https", "Host": "127.0.0.1"}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    ok, errors, times = 0, 0, []
    while time.monotonic() < until:
        started = time.perf_counter()
        try:
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            response.read()
            if response.status == 200:
                ok += 1
            else:
                errors += 1
        except (OSError, http.client.HTTPException):
            errors += 1
            connection.close()
        times.append(time.perf_counter() - started)
    connection.close()
    with lock:
        results.append((ok, errors, times))


def _process(port, path, cookie, until, threads, queue):
    results, lock = [], threading.Lock()
    workers = [threading.Thread(target=_client, args=(port, path, cookie, until, results, lock)) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    queue.put((sum(r[0] for r in results), sum(r[1] for r in results), [t for r in results for t in r[2]]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--path", default="/my/history/")
    parser.add_argument("--user", default="staff")
    parser.add_argument("--out", default=str(ROOT / "bench" / "load.json"))
    parser.add_argument("--size", type=int, default=None, help="recorded with the figures")
    args = parser.parse_args()

    cookie = make_session(args.user)
    gunicorn = Path(sys.executable).with_name("gunicorn")
    server = subprocess.Popen(
        [str(gunicorn), "config.wsgi:application", "--workers", str(args.workers), "--bind", f"127.0.0.1:{args.port}",
         "--log-level", "warning"],
        cwd=ROOT, env={**os.environ, "DEBUG": "0"},
    )
    try:
        deadline = time.monotonic() + 30
        while True:  # wait for the server, and check the page answers 200 to this session
            try:
                connection = http.client.HTTPConnection("127.0.0.1", args.port, timeout=10)
                connection.request("GET", args.path, headers={"Cookie": f"sessionid={cookie}", "X-Forwarded-Proto": "https"})
                status = connection.getresponse().status
                connection.close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("gunicorn did not start")
                time.sleep(0.3)
        if status != 200:
            raise SystemExit(f"GET {args.path} answered {status}, not 200: is the database seeded (seed_scale)?")
        for _ in range(args.workers * 3):  # warm every worker
            connection = http.client.HTTPConnection("127.0.0.1", args.port, timeout=10)
            connection.request("GET", args.path, headers={"Cookie": f"sessionid={cookie}", "X-Forwarded-Proto": "https"})
            connection.getresponse().read()
            connection.close()
        processes = 2
        queue = multiprocessing.Queue()
        started = time.monotonic()
        until = started + args.seconds
        runners = [
            multiprocessing.Process(target=_process, args=(args.port, args.path, cookie, until, max(1, args.clients // processes), queue))
            for _ in range(processes)
        ]
        for runner in runners:
            runner.start()
        outcomes = [queue.get(timeout=args.seconds + 120) for _ in runners]
        for runner in runners:
            runner.join(timeout=10)
        elapsed = time.monotonic() - started
    finally:
        server.terminate()
        server.wait(timeout=30)
    ok = sum(o[0] for o in outcomes)
    errors = sum(o[1] for o in outcomes)
    times = sorted(t for o in outcomes for t in o[2])
    figures = {
        "page": args.path, "size": args.size, "server": f"gunicorn, {args.workers} workers (sync), production settings",
        "clients": args.clients, "seconds": round(elapsed, 1), "requests": ok + errors, "errors": errors,
        "requests_per_second": round((ok + errors) / elapsed, 1),
        "median_ms": round(statistics.median(times) * 1000, 1) if times else None,
        "p95_ms": round(times[int(len(times) * 0.95) - 1] * 1000, 1) if times else None,
    }
    Path(args.out).write_text(json.dumps(figures, indent=1) + "\n")
    print(f"Load test {args.path}: {figures['requests_per_second']} requests/s, {errors} errors, {figures['requests']} requests in "
          f"{figures['seconds']} s ({args.clients} clients; gunicorn {args.workers} workers); median {figures['median_ms']} ms, "
          f"95th percentile {figures['p95_ms']} ms")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
