"""Browser tests: Playwright drives Debian's Chromium against a real server of the app.

The server is `manage.py runserver` (DEBUG off, e2e/settings.py) on a free 127.0.0.1 port, with a
worker (`manage.py qcluster`) for the long jobs, on a
temporary SQLite database that `seed_demo` fills once per run, for the day it runs: the demo
organisation, with the logins hr, manager and staff (password "demo"). hr's HR rights need a second
factor: the login gives the code an authenticator app would, from the secret `seed_demo` prints.
As in production, `collectstatic` runs first and WhiteNoise serves the static files under their
hashed names. Tests that change data (opening a
cycle, publishing a role profile) use records nobody else in the run depends on.

Every main page a test passes goes through `check_page`: no sideways scrolling of the page, axe-core
(e2e/vendor/axe-core/) against the WCAG 2.0/2.1/2.2 A and AA rules (a serious or critical violation
fails, as does any violation of the structure rules below), and a screenshot in e2e/screenshots/
(git-ignored).
"""

import base64
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django_otp.oath import TOTP
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
E2E = ROOT / "e2e"
SCREENSHOTS = E2E / "screenshots"
# Every violation axe-core found, failing or not, page by page.
AXE_REPORT = SCREENSHOTS / "axe-report.txt"
AXE_SOURCE = (E2E / "vendor" / "axe-core" / "axe.min.js").read_text(encoding="utf-8")
CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "demo"
DESKTOP = {"width": 1280, "height": 900}
MOBILE = {"width": 375, "height": 812}

# axe-core's tags for the success criteria of WCAG 2.0, 2.1 and 2.2 at levels A and AA.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
FAILING_IMPACTS = {"serious", "critical"}
# Structure a screen-reader user navigates by. axe files these under "best-practice", not under a
# success criterion, so they are run by name; any violation of them fails, whatever its impact.
STRUCTURE_RULES = [
    "heading-order",
    "page-has-heading-one",
    "landmark-one-main",
    "landmark-unique",
    "skip-link",
    "region",
]

# Ids of demo records, read from the seeded database (the server's own numbering).
IDS_SCRIPT = """
import json
from appraisal.models import Appraisal, AppraisalCycle
from staff.models import StaffMember
cycle = AppraisalCycle.objects.order_by("-period_end").first()  # the demo's current cycle
print(json.dumps({
    "current_cycle": cycle.pk,
    "current_appraisal": {
        a.staff_member.user.username: a.pk
        for a in Appraisal.objects.filter(cycle=cycle).select_related("staff_member__user")
    },
    "staff": {m.user.username: m.pk for m in StaffMember.objects.select_related("user")},
}))
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# What seed_demo prints for the demo hr's second factor: the key to add to an authenticator app.
PRINTED_SECRET = re.compile(r"time-based key ((?:[A-Z2-7]{4} ?)+)")
VERIFY_PATH = "/accounts/second-factor/verify/"

# The last half-minute whose code was given, per secret: the server takes each code once.
_last_step: dict[str, int] = {}


def authenticator_code(secret: str) -> str:
    """The code an authenticator app holding this base32 secret shows now. A half-minute whose code was
    given already is waited out (at most 30 seconds), as a person waits for the app's next code."""
    compact = secret.replace(" ", "").upper()
    key = base64.b32decode(compact + "=" * (-len(compact) % 8))
    while (step := int(time.time()) // 30) <= _last_step.get(compact, -1):
        time.sleep(30 - time.time() % 30 + 0.2)
    _last_step[compact] = step
    totp = TOTP(key)
    totp.time = step * 30
    return f"{totp.token():06d}"


class Server:
    def __init__(self, url: str, ids: dict, secrets: dict[str, str], manage=None, env=None):
        self.url, self.ids, self._manage = url, ids, manage
        self.env = env or {}  # the server's environment (settings, database)
        self.secrets = secrets  # username -> the second factor's secret, as printed

    def manage(self, *args, extra_env=None) -> str:
        """What a manage.py command prints, run on the server's database."""
        return self._manage(*args, extra_env=extra_env)

    def shell(self, script: str) -> str:
        """What `script` prints, run by `manage.py shell -c` on the server's database."""
        return self._manage("shell", "-c", script)

    def current_appraisal(self, username: str) -> int:
        return self.ids["current_appraisal"][username]

    def staff_id(self, username: str) -> int:
        return self.ids["staff"][username]


def answers(url: str, process: subprocess.Popen, *, within: float = 30) -> bool:
    """Whether the server started at `url` answers its login page within `within` seconds."""
    deadline = time.monotonic() + within
    while process.poll() is None and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/accounts/login/", timeout=2) as response:  # noqa: S310 - http:// on 127.0.0.1, a server the tests started
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


MANAGE = [sys.executable, str(ROOT / "manage.py")]


def manage_command(env: dict):
    """`run(*args, extra_env=None)`: what a manage.py command prints, run on `env` (it must succeed)."""

    def run(*args, extra_env=None):
        result = subprocess.run(
            [*MANAGE, *args], cwd=ROOT, env={**env, **(extra_env or {})}, capture_output=True, text=True
        )
        assert result.returncode == 0, f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    return run


def runserver(env: dict, port: int, log) -> subprocess.Popen:
    """The app served by `manage.py runserver` on 127.0.0.1:`port` with `env`, its output to `log`."""
    return subprocess.Popen(
        [*MANAGE, "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def stop(*processes: subprocess.Popen) -> None:
    for process in processes:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """The app, served on a fresh demo database for the whole run."""
    work = tmp_path_factory.mktemp("e2e-server")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "e2e.settings",
        "DATABASE_URL": f"sqlite:///{work / 'db.sqlite3'}",
        "STATIC_ROOT": str(work / "static"),
    }
    env.pop("DEBUG", None)
    run = manage_command(env)

    run("collectstatic", "--no-input", "-v", "0")
    run("migrate", "--no-input", "-v", "0")
    printed = PRINTED_SECRET.search(run("seed_demo"))
    assert printed, "seed_demo printed no second factor for hr"
    ids = json.loads(run("shell", "-c", IDS_SCRIPT).strip().splitlines()[-1])

    port = _free_port()
    log = open(work / "server.log", "w")
    process = runserver(env, port, log)
    # A worker for the long jobs (opening a cycle, a ZIP), as `make run` starts one. The PDFs that
    # seeding queued for the demo's completed records are dropped first: the ZIP makes those it needs,
    # and a cycle's opening is not left waiting behind them.
    run("shell", "-c", "from django_q.models import OrmQ; OrmQ.objects.all().delete()")
    worker_log = open(work / "worker.log", "w")
    worker = subprocess.Popen([*MANAGE, "qcluster"], cwd=ROOT, env=env, stdout=worker_log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    if not answers(url, process):
        process.kill()
        worker.kill()
        pytest.fail(f"the server did not start:\n{(work / 'server.log').read_text()}")
    try:
        yield Server(url, ids, {"hr": printed.group(1).strip()}, manage=run, env=env)
    finally:
        stop(process, worker)
        log.close()
        worker_log.close()


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session", autouse=True)
def screenshots_folder():
    SCREENSHOTS.mkdir(exist_ok=True)
    for old in [*SCREENSHOTS.glob("*.png"), AXE_REPORT]:
        old.unlink(missing_ok=True)


class Session:
    """One person's browser context (cookies and all), with a page."""

    def __init__(self, browser, server: Server, *, viewport=DESKTOP):
        self.server = server
        self.viewport = viewport
        # Reduced motion: Bootstrap then scrolls at once rather than smoothly, so that what a key
        # press brings into view is in view when the test looks.
        self.context = browser.new_context(
            base_url=server.url, viewport=viewport, locale="en-GB", timezone_id="Europe/London", reduced_motion="reduce"
        )
        self.context.set_default_timeout(15_000)
        self.page = self.context.new_page()
        # Script errors, Content-Security-Policy refusals and assets that failed to load. (A page
        # itself may answer 404 on purpose: that is the test's to check.)
        self.console_errors: list[str] = []
        self.page.on("pageerror", lambda error: self.console_errors.append(f"{self.page.url}: {error}"))
        self.page.on("console", self._console)
        self.page.on("response", self._response)

    def _console(self, message) -> None:
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.console_errors.append(f"{self.page.url}: {message.text}")

    def _response(self, response) -> None:
        if response.status >= 400 and response.request.resource_type != "document":
            self.console_errors.append(f"{self.page.url}: {response.url} answered {response.status}")

    def login(self, username: str, *, password: str = PASSWORD, secret: str | None = None) -> "Session":
        """Log in through the login form; with a second factor (the demo hr's, or `secret`), give its code."""
        page = self.page
        self.give_password(username, password=password)
        secret = secret or self.server.secrets.get(username)
        if secret is not None:
            page.wait_for_url(f"{self.server.url}{VERIFY_PATH}**")
            self.give_code(secret)
        page.wait_for_url(f"{self.server.url}/")
        return self

    def give_password(self, username: str, *, password: str = PASSWORD) -> None:
        page = self.page
        page.goto("/accounts/login/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_load_state("load")

    def give_code(self, secret: str) -> None:
        """On the second factor's page: the code the app shows now."""
        self.page.get_by_label("Code").fill(authenticator_code(secret))
        self.page.get_by_role("button", name="Continue").click()
        self.page.wait_for_load_state("load")


def pytest_collection_modifyitems(items):
    """The tour of every page first, so that its screenshots show the demo data as seeded, before
    the journeys open a cycle and publish a role profile."""
    items.sort(key=lambda item: 0 if item.fspath.basename == "test_pages.py" else 1)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.call_failed = report.failed
    return report


@pytest.fixture
def session(browser, server, request):
    """session(username=None, viewport=DESKTOP): a new browser context, logged in as username.

    When the test fails, each person's page is kept as a screenshot named FAILED-<test>-<n>.png."""
    opened = []

    def make(username: str | None = None, *, viewport=DESKTOP) -> Session:
        person = Session(browser, server, viewport=viewport)
        opened.append(person)
        return person.login(username) if username else person

    yield make
    for number, person in enumerate(opened, start=1):
        if getattr(request.node, "call_failed", False):
            name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)
            person.page.screenshot(path=str(SCREENSHOTS / f"FAILED-{name}-{number}.png"))
        person.context.close()


def axe_violations(page) -> tuple[list[dict], list[dict]]:
    """Run axe-core on the page: (violations that fail the test, the others, reported only)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        # Evaluated through the DevTools protocol, which the page's Content-Security-Policy does not
        # govern; a <script> tag with the source inline would be refused by it (script-src 'self').
        page.evaluate(AXE_SOURCE)
    results = page.evaluate(
        """async ([tags, structure]) => {
            // One run: every rule of the WCAG tags, and the structure rules by name.
            const wcag = axe.getRules(tags).map(rule => rule.ruleId);
            const result = await axe.run(document, {
                runOnly: {type: 'rule', values: [...new Set([...wcag, ...structure])]},
                resultTypes: ['violations'],
            });
            return result.violations.map(v => ({
                kind: wcag.includes(v.id) ? 'wcag' : 'structure', id: v.id, impact: v.impact,
                help: v.help, nodes: v.nodes.map(n => ({target: n.target.join(' '), summary: n.failureSummary})),
            }));
        }""",
        [WCAG_TAGS, STRUCTURE_RULES],
    )
    failing = [v for v in results if v["kind"] == "structure" or v["impact"] in FAILING_IMPACTS]
    return failing, [v for v in results if v not in failing]


def describe(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"  [{violation['impact']}] {violation['id']}: {violation['help']}")
        if violation["nodes"]:  # what is wrong with the first, e.g. the colours and their ratio
            lines.append("      " + " ".join((violation["nodes"][0]["summary"] or "").split())[:300])
        for node in violation["nodes"][:8]:
            lines.append(f"      {node['target']}")
        if len(violation["nodes"]) > 8:
            lines.append(f"      … and {len(violation['nodes']) - 8} more")
    return "\n".join(lines)


def check_page(person: Session, name: str, *, axe: bool = True, screenshot: bool = True) -> None:
    """Check the page person is on: no horizontal scrolling of the page, axe-core's WCAG 2.2 A/AA
    rules (serious and critical violations fail), and a screenshot named after the page and width."""
    page = person.page
    page.wait_for_load_state("load")
    width = person.viewport["width"]
    overflow = page.evaluate("() => ({scroll: document.documentElement.scrollWidth, inner: window.innerWidth})")
    assert overflow["scroll"] <= overflow["inner"], (
        f"{name} at {width}px scrolls sideways: the page is {overflow['scroll']}px wide"
    )
    if screenshot:
        shoot(page, f"{name}-{'mobile' if width < 600 else 'desktop'}")
    if axe:
        failing, others = axe_violations(page)
        with AXE_REPORT.open("a", encoding="utf-8") as report:
            for violation in failing + others:
                report.write(f"{name} ({width}px) {page.url}\n{describe([violation])}\n")
        assert not failing, f"axe-core on {name} ({page.url}, {width}px):\n{describe(failing)}"


def shoot(page, name: str, *, max_screens: int = 4) -> None:
    """A screenshot of the page from its top, at most max_screens viewports high (so it stays viewable)."""
    viewport = page.viewport_size
    height = page.evaluate("() => document.documentElement.scrollHeight")
    page.screenshot(
        path=str(SCREENSHOTS / f"{name}.png"),
        full_page=True,
        clip={"x": 0, "y": 0, "width": viewport["width"], "height": min(height, viewport["height"] * max_screens)},
        animations="disabled",
    )
