"""A real OpenID Connect provider for the tests of single sign-on: the project in tests/oidc_provider/
(django-oidc-provider), started in a process of its own on a free 127.0.0.1 port, with a database in a
temporary folder.

    with Provider([SSO_CALLBACK]) as provider:
        sub = provider.set_user("ada", password="pw", email="ada@example.org", first_name="Ada")
        location = provider.sign_in(authorize_url, "ada", "pw")  # the redirect URI, with code and state

tests/conftest.py starts one for the whole run (the `oidc_provider` fixture); the browser tests (e2e/) start
their own with the live server's redirect URI. Nothing here needs pytest or the app's settings.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from types import TracebackType
from urllib.parse import urljoin, urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
# Where the app's single sign-on comes back to under Django's test client (its host is "testserver").
SSO_CALLBACK = "http://testserver/accounts/sso/callback/"
TIMEOUT = 10  # seconds for any one request to the provider


class SignInFailed(Exception):
    """The provider did not send the browser back to the app (see `sign_in`)."""


class Provider:
    """The test provider, started by `start()` (or `with`) and stopped by `stop()`.

    Its one client is confidential, with `client_id` and `client_secret` (a new random secret unless one is
    given), allowed `redirect_uris`, the authorization-code flow and no consent screen; it may send its
    secret in the token request's body (client_secret_post) or as HTTP Basic (client_secret_basic), and
    may use PKCE. Signed in with `openid email profile`, a person's ID token holds `email`,
    `email_verified`, `name`, `given_name`, `family_name`, and `amr` (["pwd"], or ["pwd", "mfa"] for
    someone set up with mfa); with `hosted_domain`, people whose email is at that domain have Google's
    `hd` claim too.
    """

    def __init__(
        self,
        redirect_uris: Iterable[str],
        *,
        client_id: str = "appraisals",
        client_secret: str | None = None,
        hosted_domain: str | None = None,
        startup_timeout: float = 30,
    ) -> None:
        self.redirect_uris = list(redirect_uris)
        self.client_id = client_id
        self.client_secret = client_secret or secrets.token_urlsafe(32)
        self.hosted_domain = hosted_domain
        self.startup_timeout = startup_timeout
        self._control_secret = secrets.token_urlsafe(32)
        self._process: subprocess.Popen[str] | None = None
        self._folder: str | None = None
        self._url: str | None = None

    # --- starting and stopping -----------------------------------------------------------------------------

    def start(self) -> Provider:
        """Start the provider and wait until it serves (under a second)."""
        if self._process is not None:
            raise RuntimeError("the provider is already started")
        self._folder = tempfile.mkdtemp(prefix="sso-provider-")
        options = {
            "port": "0",  # a free port, chosen when it listens: no race for it with other processes
            "db": str(Path(self._folder) / "provider.sqlite3"),
            "client-id": self.client_id,
            "client-secret": self.client_secret,
            "control-secret": self._control_secret,
            "hosted-domain": self.hosted_domain or "",
        }
        # Each value joined to its option by "=": a random secret may begin with "-", which would otherwise
        # be read as an option of its own.
        command = [sys.executable, "-m", "tests.oidc_provider.serve"]
        command += [f"--{name}={value}" for name, value in options.items()]
        command += [f"--redirect-uri={uri}" for uri in self.redirect_uris]
        try:
            self._url = self._launch(command)
        except BaseException:
            self.stop()
            raise
        return self

    def _launch(self, command: list[str]) -> str:
        """Run the provider; its URL once it is ready."""
        # Its errors go to this process's stderr (pytest shows them with the test that caused them); its
        # stdout says only that it is ready, and where.
        self._process = process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert process.stdout is not None
        # A provider that never says it is ready is killed, which ends the wait for its line.
        watchdog = threading.Timer(self.startup_timeout, process.kill)
        watchdog.start()
        try:
            line = process.stdout.readline()
        finally:
            watchdog.cancel()
            process.stdout.close()  # nothing more is printed there
        if not line.startswith("ready "):
            try:
                code: int | None = process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                code = None  # still running, and not ready
            raise RuntimeError(
                f"the test OpenID Connect provider did not start (exit code {code}, printed {line!r}; its "
                "errors are on stderr)"
            )
        return line.split()[1]

    def stop(self) -> None:
        """Stop the provider and remove its database. Stopping one that is stopped does nothing."""
        process, self._process, self._url = self._process, None, None
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def __enter__(self) -> Provider:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    # --- where it is -----------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """http://127.0.0.1:<port>, without a slash at the end."""
        if self._url is None:
            raise RuntimeError("the provider is not started")
        return self._url

    @property
    def issuer(self) -> str:
        """The `iss` of its ID tokens and the `issuer` of its discovery document."""
        return f"{self.url}/openid"

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    # The endpoints, as the discovery document gives them (for a client configured with each one).
    @property
    def authorization_endpoint(self) -> str:
        return f"{self.issuer}/authorize"

    @property
    def token_endpoint(self) -> str:
        return f"{self.issuer}/token"

    @property
    def userinfo_endpoint(self) -> str:
        return f"{self.issuer}/userinfo"

    @property
    def jwks_uri(self) -> str:
        return f"{self.issuer}/jwks"

    # --- its people ------------------------------------------------------------------------------------------

    def set_user(
        self,
        username: str,
        *,
        password: str,
        email: str,
        first_name: str = "",
        last_name: str = "",
        mfa: bool = False,
        email_verified: bool = True,
        is_active: bool = True,
    ) -> str:
        """Create the person of this username at the provider, or change them to these details; return their
        `sub`, which stays the same whatever else changes. `mfa`: they signed in with a second factor (the ID
        token's `amr` says so). An inactive person cannot sign in."""
        response = requests.post(
            f"{self.url}/control/users/",
            json={
                "username": username,
                "password": password,
                "email": email,
                "first_name": first_name,
                "last_name": last_name,
                "mfa": mfa,
                "email_verified": email_verified,
                "is_active": is_active,
            },
            headers={"Authorization": f"Bearer {self._control_secret}"},
            timeout=TIMEOUT,
        )
        response.raise_for_status()
        return str(response.json()["sub"])

    def sign_in(
        self, authorize_url: str, username: str, password: str, *, session: requests.Session | None = None
    ) -> str:
        """See `sign_in`."""
        return sign_in(authorize_url, username, password, session=session)


@dataclass
class _Form:
    action: str
    fields: dict[str, str] = field(default_factory=dict)  # the named inputs but the password, with their values
    has_password: bool = False


class _Forms(HTMLParser):
    """A page's forms."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[_Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "form":
            self.forms.append(_Form(action=attributes.get("action") or ""))
        elif tag == "input" and self.forms:
            name = attributes.get("name")
            if attributes.get("type") == "password":
                self.forms[-1].has_password = True
            elif name:
                self.forms[-1].fields[name] = attributes.get("value") or ""


def _origin(url: str) -> tuple[str, str]:
    return urlsplit(url).scheme, urlsplit(url).netloc


def _visit(
    browser: requests.Session, response: requests.Response, provider: tuple[str, str]
) -> str | requests.Response:
    """Follow the provider's redirects: the URL a redirect leaves it for, or else the page it shows."""
    for _ in range(10):
        if not response.is_redirect:
            return response
        url = urljoin(response.url, response.headers["Location"])
        if _origin(url) != provider:
            return url
        response = browser.get(url, allow_redirects=False, timeout=TIMEOUT)
    raise SignInFailed(f"the provider kept redirecting, last to {response.url}")


def sign_in(authorize_url: str, username: str, password: str, *, session: requests.Session | None = None) -> str:
    """Play the browser's part at the provider: follow the authorization URL the app redirected to, sign in
    with the provider's login form (its CSRF token read from the form) and return the URL the provider then
    redirects to, the app's redirect URI with `code` and `state` (or with `error`), without following it.

    With a `session` signed in at the provider already, no login form comes (single sign-on): the provider
    sends the browser straight back. Raises SignInFailed if the provider does not send it back: it showed
    its login form again (a wrong password, an inactive person) or an error page (an unknown client or
    redirect URI).
    """
    browser = session or requests.Session()
    provider = _origin(authorize_url)
    page = _visit(browser, browser.get(authorize_url, allow_redirects=False, timeout=TIMEOUT), provider)
    if isinstance(page, str):
        return page
    forms = _Forms()
    forms.feed(page.text)
    login = next((form for form in forms.forms if form.has_password), None)
    if login is None:
        raise SignInFailed(f"no login form at {page.url} ({page.status_code}):\n{page.text}")
    response = browser.post(
        urljoin(page.url, login.action),  # an empty action: the page's own URL, with its `next`
        data={**login.fields, "username": username, "password": password},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    page = _visit(browser, response, provider)
    if isinstance(page, str):
        return page
    raise SignInFailed(f"the provider did not sign {username} in ({page.status_code}):\n{page.text}")
