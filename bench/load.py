"""Load test: gunicorn (production settings, 4 workers) serving one page to clients on 127.0.0.1.

    DATABASE_URL=... .venv/bin/python bench/load.py [--seconds 20] [--workers 4] [--clients N]
        [--path /my/history/] [--generator auto|wrk|python]

Logs `--user` in by creating a session in the database (the login form is throttled, and the
session cookie is Secure), collects the static files (as production does before it starts; the
page links to their hashed names), starts gunicorn (`--workers` sync workers, DEBUG=0) on
127.0.0.1, checks the page answers 200 and warms every worker (concurrently), then sends GET
requests with `X-Forwarded-Proto: https` (as the TLS proxy in front of the app would) over
`--clients` concurrent connections for `--seconds`.

Load generator (`--generator`, default auto: wrk when it is on PATH, else python):
- wrk (Debian's `wrk`, C and epoll): one thread, `--clients` connections, with bench/load.lua, which
  counts every response that is not 200 (plain wrk counts only statuses above 399, so a 302 to the
  login page would pass) and reports the 50th/95th/99th latency percentiles. It uses little CPU,
  leaving the machine to the server; its duration is whole seconds, and its latencies start when a
  request is written (after the connection is made).
- python: client threads in two processes (http.client), the fallback. It costs more CPU per request
  than wrk (about twice, here), which on a small machine is taken from the server being measured.

`--clients` defaults to twice `--workers`, so that a worker never waits for a request: gunicorn's
sync workers serve one connection at a time and close it after each response, and the other
connections wait in the kernel's listen queue (their latency includes that wait: on two cores the
median is about 40 ms with 8 connections and 21 ms with 4, at the same requests/s). Every worker
is warmed first (see warm_up): a worker's first request takes about a second, and a sequential
warm-up left three of the four cold, which showed as waits of 1–2 s at the 99th percentile.

Errors are anything but 200, or no answer (wrk: connect, read, write and timeout socket errors).
Writes bench/load.json (page, size, server, generator, clients, seconds, requests, errors,
requests_per_second, median_ms, p95_ms, p99_ms) and prints one line; exits 1 if there were errors.
Bounded in time and only ever talks to 127.0.0.1.
"""

import argparse
import concurrent.futures
import http.client
import json
import multiprocessing
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WRK_SCRIPT = ROOT / "bench" / "load.lua"


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_session(username: str) -> str:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.db import SessionStore
    from django_otp import DEVICE_ID_SESSION_KEY

    from bench.measure import verified_device_id
    from core.security import SEEN_KEY, STARTED_KEY

    user = get_user_model().objects.get(username=username)
    session = SessionStore()
    now = int(time.time())
    session.update(
        {
            SESSION_KEY: str(user.pk),
            BACKEND_SESSION_KEY: settings.AUTHENTICATION_BACKENDS[0],
            HASH_SESSION_KEY: user.get_session_auth_hash(),
            STARTED_KEY: now,
            SEEN_KEY: now,
            DEVICE_ID_SESSION_KEY: verified_device_id(user),  # the second factor given, as HR's must be
        }
    )
    session.save()
    return session.session_key  # type: ignore[return-value]  # saved, so it has a key


def _headers(cookie):
    """The logged-in session's request headers, as the TLS proxy in front of the app would pass them."""
    return {"Cookie": f"sessionid={cookie}", "X-Forwarded-Proto": "https", "Host": "127.0.0.1"}


def _fetch(port, path, cookie, timeout):
    """One GET on a connection of its own; its status."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers=_headers(cookie))
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


# --- python generator: client threads in two processes ---------------------------------------


def _client(port, path, cookie, until, results, lock):
    headers = _headers(cookie)
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
    workers = [
        threading.Thread(target=_client, args=(port, path, cookie, until, results, lock)) for _ in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    queue.put((sum(r[0] for r in results), sum(r[1] for r in results), [t for r in results for t in r[2]]))


def _rank(times, fraction):
    """The value at `fraction` of the sorted list `times` (seconds), in ms."""
    return round(times[max(0, int(len(times) * fraction) - 1)] * 1000, 1) if times else None


def run_python(args, cookie):
    processes = min(2, args.clients)
    threads = [args.clients // processes + (1 if i < args.clients % processes else 0) for i in range(processes)]
    queue = multiprocessing.Queue()
    started = time.monotonic()
    until = started + args.seconds
    runners = [
        multiprocessing.Process(target=_process, args=(args.port, args.path, cookie, until, count, queue))
        for count in threads
    ]
    for runner in runners:
        runner.start()
    outcomes = [queue.get(timeout=args.seconds + 120) for _ in runners]
    for runner in runners:
        runner.join(timeout=10)
    elapsed = time.monotonic() - started
    ok = sum(o[0] for o in outcomes)
    errors = sum(o[1] for o in outcomes)
    times = sorted(t for o in outcomes for t in o[2])
    return {
        "generator": "python",
        "seconds": round(elapsed, 1),
        "requests": ok + errors,
        "errors": errors,
        "requests_per_second": round((ok + errors) / elapsed, 1),
        "median_ms": round(statistics.median(times) * 1000, 1) if times else None,
        "p95_ms": _rank(times, 0.95),
        "p99_ms": _rank(times, 0.99),
    }


# --- wrk generator ----------------------------------------------------------------------------

_TIME_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def wrk_version(wrk):
    text = subprocess.run([wrk, "--version"], capture_output=True, text=True, timeout=10).stdout
    match = re.search(r"^wrk (?:\S*/)?v?(\d+(?:\.\d+)+)", text)  # Debian: "wrk debian/4.1.0-3+b2 [epoll] ..."
    return f"wrk {match.group(1)}" if match else "wrk"


def parse_wrk(output):
    """requests, duration (s), socket errors, not-200 responses and p50/p95/p99 (µs) from wrk's output with
    bench/load.lua; raises ValueError if any part is missing."""
    total = re.search(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h),", output, re.M)
    not200 = re.search(r"^not200 (\d+)$", output, re.M)
    percentiles = re.search(r"^percentiles (\d+) (\d+) (\d+)$", output, re.M)
    if not (total and not200 and percentiles):
        raise ValueError("no '<n> requests in <time>', 'not200' or 'percentiles' line")
    socket = re.search(r"^\s*Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)$", output, re.M)
    per_second = re.search(r"^Requests/sec:\s*([\d.]+)$", output, re.M)
    return {
        "requests": int(total.group(1)),
        "duration": float(total.group(2)) * _TIME_UNITS[total.group(3)],
        "socket_errors": sum(int(n) for n in socket.groups()) if socket else 0,  # the line is absent when all are 0
        "not200": int(not200.group(1)),
        "requests_per_second": float(per_second.group(1)) if per_second else None,
        "percentiles_us": [int(n) for n in percentiles.groups()],
    }


def run_wrk(args, cookie, wrk):
    seconds = max(1, round(args.seconds))  # wrk takes whole seconds
    command = [
        wrk,
        "-t1",
        f"-c{args.clients}",
        f"-d{seconds}s",
        "--latency",
        "--timeout",
        "10s",
        "-s",
        str(WRK_SCRIPT),
        *(arg for name, value in _headers(cookie).items() for arg in ("-H", f"{name}: {value}")),
        f"http://127.0.0.1:{args.port}{args.path}",
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, cwd=ROOT)
    except subprocess.TimeoutExpired as error:
        raise SystemExit(
            f"wrk did not finish within {seconds + 60} s:\n{error.stdout or ''}{error.stderr or ''}"
        ) from error
    output = done.stdout + done.stderr
    if done.returncode != 0:
        raise SystemExit(f"wrk exited with {done.returncode}:\n{output}")
    try:
        parsed = parse_wrk(done.stdout)
    except ValueError as error:
        raise SystemExit(f"could not read wrk's output ({error}):\n{output}") from error
    requests, duration = parsed["requests"], parsed["duration"]
    p50, p95, p99 = (round(us / 1000, 1) for us in parsed["percentiles_us"])
    return {
        "generator": wrk_version(wrk),
        "seconds": round(duration, 1),
        "requests": requests,
        "errors": parsed["not200"] + parsed["socket_errors"],
        "requests_per_second": round(requests / duration, 1) if duration else 0.0,
        "median_ms": p50 if requests else None,
        "p95_ms": p95 if requests else None,
        "p99_ms": p99 if requests else None,
    }


def warm_up(args, cookie):
    """Warm every worker (a worker's first request takes about a second): 2 × workers concurrent connections,
    3 requests each. Sequential requests would all go to the one worker that is idle first, leaving the others
    cold, and their first requests (1-2 s under load) would then land in the measured run."""

    def get():
        for _ in range(3):
            _fetch(args.port, args.path, cookie, timeout=30)

    with concurrent.futures.ThreadPoolExecutor(max_workers=args.workers * 2) as pool:
        for future in [pool.submit(get) for _ in range(args.workers * 2)]:
            future.result()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=4)
    # Default: two connections per sync worker, so none waits for a request (see the module docstring).
    parser.add_argument("--clients", type=int, default=None, help="concurrent connections (default: twice --workers)")
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    parser.add_argument("--path", default="/my/history/")
    parser.add_argument("--user", default="staff")
    parser.add_argument("--out", default=str(ROOT / "bench" / "load.json"))
    parser.add_argument("--size", type=int, default=None, help="recorded with the figures")
    parser.add_argument(
        "--generator",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="load generator (auto: wrk if it is on PATH, else python)",
    )
    args = parser.parse_args()
    if not args.port:
        args.port = _free_port()
    elif not _port_free(args.port):
        parser.error(f"port {args.port} is in use: the load would go to whatever answers there")
    if args.clients is None:
        args.clients = 2 * args.workers
    if args.clients < 1:
        parser.error("--clients must be at least 1")
    wrk = shutil.which("wrk") if args.generator in ("auto", "wrk") else None
    if args.generator == "wrk" and not wrk:
        raise SystemExit("--generator wrk: wrk is not on PATH (Debian: apt-get install wrk)")

    cookie = make_session(args.user)
    # As in production: the static files collected (hashed names, compressed copies) before the server starts.
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "-v0"],
        cwd=ROOT,
        env={**os.environ, "DEBUG": "0"},
        check=True,
    )
    gunicorn = Path(sys.executable).with_name("gunicorn")
    server = subprocess.Popen(
        [
            str(gunicorn),
            "config.wsgi:application",
            "--workers",
            str(args.workers),
            "--bind",
            f"127.0.0.1:{args.port}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**os.environ, "DEBUG": "0"},
    )
    try:
        deadline = time.monotonic() + 30
        while True:  # wait for the server, and check the page answers 200 to this session
            try:
                status = _fetch(args.port, args.path, cookie, timeout=10)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("gunicorn did not start") from None
                time.sleep(0.3)
        if status != 200:
            raise SystemExit(f"GET {args.path} answered {status}, not 200: is the database seeded (seed_scale)?")
        warm_up(args, cookie)
        measured = run_wrk(args, cookie, wrk) if wrk else run_python(args, cookie)
    finally:
        server.terminate()
        server.wait(timeout=30)
    figures = {
        "page": args.path,
        "size": args.size,
        "server": f"gunicorn, {args.workers} workers (sync), production settings",
        "clients": args.clients,
        **measured,
    }
    Path(args.out).write_text(json.dumps(figures, indent=1) + "\n")
    kind = "wrk" if wrk else "python"
    noun = ("connection" if wrk else "client") + ("" if args.clients == 1 else "s")
    print(
        f"Load test {args.path}: {figures['requests_per_second']} requests/s, {figures['errors']} errors, "
        f"{figures['requests']} requests in {figures['seconds']} s ({kind}, {args.clients} {noun}; "
        f"gunicorn {args.workers} workers); median {figures['median_ms']} ms, "
        f"95th percentile {figures['p95_ms']} ms, 99th percentile {figures['p99_ms']} ms"
    )
    return 1 if figures["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
