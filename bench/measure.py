"""The benchmark's measurements (`python manage.py bench`; `make bench` runs it at two sizes).

For each key page: the SQL queries of one request and the median server time of repeated requests
through the Django test client (the whole middleware stack, production settings, as over HTTPS
behind the proxy); for the PDFs the median render time. Beside them, in the same run, the floor:
a trivial view rendering a small template, and WeasyPrint rendering a one-page document. Each time
is also given as a ratio to its floor, which says more than milliseconds on a busy machine.
"""

import json
import statistics
import time
import tracemalloc
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import cast
from urllib.parse import urlencode

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from weasyprint import HTML

from appraisal.forms import SheetForm
from appraisal.models import Appraisal, AppraisalCycle
from appraisal.selectors import appraisal_sheet
from appraisal.services import cycles
from staff.models import StaffMember
from staff.second_factor_views import PENDING_KEY

State = Appraisal.State
FLOOR, PDF_FLOOR = "floor: small template", "floor: one-page PDF"
OPEN_CYCLE = "open a cycle for all staff"
# The scoring page saving itself (static/js/autosave.js posts the whole form): a write, timed like a page.
AUTOSAVE = "scoring page autosave"
# The history page's body is kept rendered until the person's records change (appraisal.history_cache):
# "my history" is the page as people mostly get it; this is the first view after a change.
HISTORY_FIRST_VIEW = "my history (first view)"
# A completed record's PDF is made once and kept (appraisal.record_pdfs): "appraisal PDF" times making one
# (a record in review), this the kept file served.
KEPT_PDF = "appraisal PDF (completed, kept)"
# Every outcome of every appraisal, streamed as CSV (/reports/outcomes.csv): its peak memory and time.
OUTCOMES_CSV = "outcomes CSV (every record)"
# Targets (docs/performance.md): queries per key page, median milliseconds at the larger size.
MAX_QUERIES = 17  # the organisation report: its sections, the list of disagreements, and the session's second factor
TARGET_MS = {
    "scoring page": 50,
    "appraisal record": 50,
    "my history": 50,
    HISTORY_FIRST_VIEW: 50,
    "team page": 50,
    "team page (whole line)": 50,
    "organisation reports": 100,
    "appraisal PDF": 1500,
    KEPT_PDF: 50,
    AUTOSAVE: 20,
    OPEN_CYCLE: 15000,
}
# Pages whose content has a fixed size, however many records: the largest size's median within this
# many times the smallest's.
MAX_GROWTH = {"organisation reports": 1.5, "team page (whole line)": 1.5}
# The CSV export's peak memory (Python's allocations while it streams) at every size.
MAX_EXPORT_MB = 16


@dataclass
class Result:
    name: str
    size: int
    queries: int | None
    median_ms: float
    ratio: float | None = None
    peak_mb: float | None = None  # the CSV export's peak memory
    rows: int | None = None  # the CSV export's rows


def verified_device_id(user) -> str:
    """The persistent id of a confirmed second factor of the user's (one is made for the benchmark if they
    have none), for a session that has given it: pages are measured as a verified HR admin uses them,
    the device read with every request, as in production."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Benchmark", confirmed=True)
    return device.persistent_id


def _client(username: str) -> Client:
    # Production settings: the proxy's header says the request came over HTTPS; the host is allowed.
    client = Client(HTTP_HOST="127.0.0.1", HTTP_X_FORWARDED_PROTO="https")
    user = get_user_model().objects.get(username=username)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = verified_device_id(user)  # the second factor given, as HR's must be
    session.pop(PENDING_KEY, None)
    session.save()
    return client


def _get(client: Client, url: str) -> int:
    response = client.get(url)
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} answered {response.status_code}")
    body = b"".join(response.streaming_content) if response.streaming else response.content  # type: ignore[attr-defined]  # when streaming
    return len(body)


def measure_page(client: Client, url: str, *, repeat: int, warm: int = 2, uncached: bool = False) -> tuple[int, float]:
    """(queries of one request, median milliseconds of `repeat` requests) for GET `url`; with
    `uncached`, the cache is emptied before each request (untimed), as for the first view after a change."""
    for _ in range(warm):
        _get(client, url)
    if uncached:
        cache.clear()
    with CaptureQueriesContext(connection) as captured:
        _get(client, url)
    queries = len(captured)  # now: the next request empties the connection's query log
    times = []
    for _ in range(repeat):
        if uncached:
            cache.clear()
        started = time.perf_counter()
        _get(client, url)
        times.append((time.perf_counter() - started) * 1000)
    return queries, statistics.median(times)


def measure_call(function, *, repeat: int, warm: int = 1) -> float:
    for _ in range(warm):
        function()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def one_page_pdf() -> bytes:
    return HTML(string="<h1>Floor</h1><p>A one-page document, to time WeasyPrint itself.</p>").write_pdf()


def pages() -> list[tuple[str, str, str, bool]]:
    """(name, login, URL, is a PDF) for each measured page, from the seeded organisation (seed_scale)."""
    staff = StaffMember.objects.select_related("role_profile").get(user__username="staff")
    manager = StaffMember.objects.get(user__username="manager")
    current = (
        Appraisal.objects.filter(staff_member=staff, appraiser=manager, state=State.MANAGER_REVIEW)
        .order_by("-cycle__period_end")
        .first()
    )
    latest = Appraisal.objects.completed().filter(staff_member=staff).order_by("-cycle__period_end").first()
    completed_cycle = (
        AppraisalCycle.objects.filter(appraisals__state=State.COMPLETED, opened_at__isnull=False)
        .exclude(appraisals__state__in=[s for s in State if s != State.COMPLETED])
        .order_by("-period_end")
        .first()
    )
    if current is None or latest is None or completed_cycle is None:
        raise RuntimeError("The database does not hold a seeded organisation: run `python manage.py seed_scale` first.")
    slug = staff.role_profile.slug
    return [
        ("scoring page", "manager", reverse("appraisal_review", args=[current.pk]), False),
        ("appraisal record", "manager", reverse("appraisal", args=[latest.pk]), False),
        ("my history", "staff", reverse("my_history"), False),
        (HISTORY_FIRST_VIEW, "staff", reverse("my_history"), False),
        ("team page", "manager", reverse("team"), False),
        ("team page (whole line)", "head", reverse("team") + "?scope=line", False),
        ("organisation reports", "hr", reverse("reports") + f"?cycle={completed_cycle.pk}", False),
        ("role profile page", "staff", reverse("role_profile_detail", args=[slug]), False),
        ("appraisal PDF", "manager", reverse("appraisal_pdf", args=[current.pk]), True),
        (KEPT_PDF, "manager", reverse("appraisal_pdf", args=[latest.pk]), False),
        ("role profile PDF", "staff", reverse("role_profile_pdf", args=[slug]), True),
        ("history PDF", "staff", reverse("my_history_pdf"), True),
    ]


def time_open_cycle(*, repeat: int = 1) -> tuple[int, float]:
    """(queries, median ms) of opening a new cycle for all staff, each time rolled back afterwards."""
    hr = get_user_model().objects.get(username="hr")
    latest = cast(AppraisalCycle, AppraisalCycle.objects.order_by("-period_end").first())  # seed_scale made the cycles
    year = latest.period_end.year + 1
    queries, times = 0, []
    for _ in range(repeat):
        with transaction.atomic():
            cycle = cycles.create_cycle(
                by=hr,
                name="Benchmark cycle",
                period_start=latest.period_end.replace(year=year - 1, day=1, month=4),
                period_end=latest.period_end.replace(year=year),
                due_on=latest.due_on.replace(year=year),
                self_assessment=True,
            )
            hr = get_user_model().objects.get(pk=hr.pk)
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                result = cycles.open_cycle(by=hr, cycle=cycle)
                times.append((time.perf_counter() - started) * 1000)
            if not result.created:
                raise RuntimeError("Opening the benchmark cycle created no appraisals.")
            queries = len(captured)
            transaction.set_rollback(True)
    return queries, statistics.median(times)


def time_autosave(client: Client, *, repeat: int, warm: int = 2) -> tuple[int, float]:
    """(queries, median ms) of the scoring page's autosave: the whole form as the page holds it, form-encoded
    as the page's script sends it, from the record's current revision, each time after a click that
    changes one indicator's rating (so that each save writes, and re-derives that competency's level)."""
    appraisal = Appraisal.objects.get(pk=int(pages()[0][2].strip("/").split("/")[-2]))
    form = SheetForm(sheet=appraisal_sheet(appraisal), appraisal=appraisal, for_self=False)
    data = {name: "" if value is None else str(value) for name, value in form.initial.items()}
    url = reverse("appraisal_review_autosave", args=[appraisal.pk])
    ratings = [name for name in data if name.startswith("rating-")]
    choices = ["consistently", "partly", "not_yet"]
    times, queries = [], 0
    for number in range(warm + repeat):
        data["revision"] = str(Appraisal.objects.values_list("revision", flat=True).get(pk=appraisal.pk))
        clicked = ratings[number % len(ratings)]
        data[clicked] = next(choice for choice in choices[number % 3 :] + choices if choice != data[clicked])
        body = urlencode(data)  # the browser's work, not the server's
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.post(url, body, content_type="application/x-www-form-urlencoded")
            elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200 or not response.json()["saved"]:
            raise RuntimeError(f"the autosave answered {response.status_code}: {response.content[:300]!r}")
        if number >= warm:
            times.append(elapsed)
            queries = len(captured)
    return queries, statistics.median(times)


def time_outcomes_csv(client: Client, *, size: int) -> Result:
    """Stream the whole outcomes export once, as a browser would read it, with Python's allocations
    traced (`tracemalloc`): its peak memory, rows and time (slower than untraced)."""
    url = reverse("outcomes_csv")
    with CaptureQueriesContext(connection) as captured:
        tracemalloc.start()
        started = time.perf_counter()
        response = client.get(url)
        rows = 0
        for chunk in response.streaming_content:  # type: ignore[attr-defined]  # a streaming response
            rows += chunk.count(b"\n")
        elapsed = (time.perf_counter() - started) * 1000
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} answered {response.status_code}")
    return Result(OUTCOMES_CSV, size, len(captured), elapsed, None, round(peak / 2**20, 1), rows - 1)


def run(*, size: int, repeat: int = 15, pdf_repeat: int = 5, only: set[str] | None = None, out=print) -> list[Result]:
    """Measure every page (or those named in `only`) and the floors; return the results, ratios filled in."""
    results = []
    with override_settings(ROOT_URLCONF="bench.urls", EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"):
        anonymous = Client(HTTP_HOST="127.0.0.1", HTTP_X_FORWARDED_PROTO="https")
        queries, floor = measure_page(anonymous, reverse("bench_floor"), repeat=max(repeat, 30))
        results.append(Result(FLOOR, size, queries, floor, 1.0))
        pdf_floor = measure_call(one_page_pdf, repeat=pdf_repeat)
        results.append(Result(PDF_FLOOR, size, None, pdf_floor, 1.0))
        out(f"  floors: page {floor:.1f} ms, PDF {pdf_floor:.1f} ms")
        clients: dict[str, Client] = {}
        for name, login, url, is_pdf in pages():
            if only and name not in only:
                continue
            client = clients.setdefault(login, _client(login)) if login not in clients else clients[login]
            queries, median = measure_page(
                client,
                url,
                repeat=pdf_repeat if is_pdf else repeat,
                warm=1 if is_pdf else 2,
                uncached=name == HISTORY_FIRST_VIEW,
            )
            result = Result(name, size, queries, median, median / (pdf_floor if is_pdf else floor))
            results.append(result)
            out(f"  {name}: {queries} queries, {median:.1f} ms")
        if not only or AUTOSAVE in only:
            queries, median = time_autosave(clients.get("manager") or _client("manager"), repeat=repeat)
            results.append(Result(AUTOSAVE, size, queries, median, median / floor))
            out(f"  {AUTOSAVE}: {queries} queries, {median:.1f} ms")
        if not only or OUTCOMES_CSV in only:
            result = time_outcomes_csv(clients.get("hr") or _client("hr"), size=size)
            results.append(result)
            out(f"  {OUTCOMES_CSV}: {result.rows} rows in {result.median_ms / 1000:.1f} s, peak {result.peak_mb} MB")
        if not only or OPEN_CYCLE in only:
            queries, median = time_open_cycle()
            results.append(Result(OPEN_CYCLE, size, queries, median, None))
            out(f"  {OPEN_CYCLE}: {queries} queries, {median:.0f} ms")
    for result in results:
        if result.ratio is not None:
            result.ratio = round(result.ratio, 1)
        result.median_ms = round(result.median_ms, 1)
    return results


def save(results: list[Result], path: Path) -> list[dict]:
    """Add `results` to the list in `path` (replacing earlier ones for the same size), and return the whole list."""
    existing = json.loads(path.read_text()) if path.exists() else []
    sizes = {result.size for result in results}
    rows = [row for row in existing if row["size"] not in sizes] + [asdict(result) for result in results]
    rows.sort(key=lambda row: (row["size"], _order(row["name"])))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rows, indent=1) + "\n")
    return rows


NAMES_IN_ORDER = [
    FLOOR,
    PDF_FLOOR,
    "scoring page",
    "appraisal record",
    "my history",
    HISTORY_FIRST_VIEW,
    "team page",
    "team page (whole line)",
    "organisation reports",
    "role profile page",
    "appraisal PDF",
    KEPT_PDF,
    AUTOSAVE,
    OUTCOMES_CSV,
    "role profile PDF",
    "history PDF",
    OPEN_CYCLE,
]


def _order(name: str) -> int:
    return NAMES_IN_ORDER.index(name) if name in NAMES_IN_ORDER else len(NAMES_IN_ORDER)


def table(rows: list[dict]) -> str:
    """The results as a Markdown table: one line per measurement, the sizes side by side, each target checked."""
    sizes = sorted({row["size"] for row in rows})
    by = {(row["name"], row["size"]): row for row in rows}
    names = sorted({row["name"] for row in rows}, key=_order)
    header = ["measurement"]
    for size in sizes:
        header += [f"queries ({size})", f"median ms ({size})", f"× floor ({size})"]
    if len(sizes) > 1:
        header.append(f"{sizes[-1]} ÷ {sizes[0]}")
    header.append("target")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    largest = sizes[-1] if sizes else None
    for name in names:
        cells = [name]
        for size in sizes:
            row = by.get((name, size))
            if row is None:
                cells += ["", "", ""]
                continue
            cells += [
                "" if row["queries"] is None else str(row["queries"]),
                f"{row['median_ms']:.1f}",
                f"peak {row['peak_mb']} MB"
                if row.get("peak_mb") is not None
                else ("" if row["ratio"] is None else f"{row['ratio']:.1f}"),
            ]
        if len(sizes) > 1:
            cells.append(_growth(by.get((name, sizes[0])), by.get((name, largest))))
        cells.append(_verdict(name, [by.get((name, size)) for size in sizes], by.get((name, largest))))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _growth(smallest: dict | None, largest: dict | None) -> str:
    """The largest size's median over the smallest's."""
    if smallest is None or largest is None or not smallest["median_ms"]:
        return ""
    return f"{largest['median_ms'] / smallest['median_ms']:.2f}×"


def _verdict(name: str, rows: list[dict | None], largest: dict | None) -> str:
    if name.startswith("floor") or largest is None:
        return ""
    parts, missed = [], False
    if name == OUTCOMES_CSV:
        peaks = [row["peak_mb"] for row in rows if row and row.get("peak_mb") is not None]
        missed = bool(peaks) and max(peaks) > MAX_EXPORT_MB
        return ("MISSED: " if missed else "met: ") + f"peak ≤ {MAX_EXPORT_MB} MB at every size (streamed)"
    is_page = not name.endswith("PDF") and name not in (OPEN_CYCLE, AUTOSAVE)
    counts = {row["queries"] for row in rows if row}
    if is_page:
        parts.append(f"≤ {MAX_QUERIES} queries, same at every size")
        missed |= max(counts) > MAX_QUERIES or len(counts) > 1
    elif name == AUTOSAVE:
        parts.append("the same queries at every size")
        missed |= len(counts) > 1
    if name in TARGET_MS:
        parts.append(f"≤ {TARGET_MS[name]} ms")
        missed |= largest["median_ms"] > TARGET_MS[name]
    smallest = next((row for row in rows if row), None)
    if name in MAX_GROWTH and smallest is not None and smallest is not largest:
        parts.append(f"≤ {MAX_GROWTH[name]}× the smallest size's")
        missed |= largest["median_ms"] > MAX_GROWTH[name] * smallest["median_ms"]
    if not parts:
        return ""
    return ("MISSED: " if missed else "met: ") + ", ".join(parts)
