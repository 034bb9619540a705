"""A role profile version as a PDF that reads like the organisation's source documents.

WeasyPrint renders `templates/roles/role_profile_pdf.html` with `static/css/print.css`. It may load
nothing but the app's own static files: the document is built from text people type, and a PDF
renderer that follows any URL would read the server's files or call other hosts on their behalf.

With DEBUG off, `{% static %}` names a stylesheet by its content-hashed name from collectstatic's
manifest (/static/css/print.67a1f2f41723.css); the fetcher reads the manifest back to the file's
own name and serves that file from STATICFILES_DIRS. WeasyPrint only logs a stylesheet it could
not load, and prints the document without it (tests/test_pdf_styling.py would see that).
"""

import logging
import mimetypes
import os
import pickle
import selectors
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.contrib.staticfiles.storage import staticfiles_storage
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

from roles.models import RoleProfileVersion
from roles.selectors import competency_tables

logger = logging.getLogger(__name__)

# The document's own links are site paths ("/static/css/print.css"); against this base they
# arrive at the fetcher as file:///static/css/print.css, which it reads as a static file's URL.
BASE_URL = "file:///"


class RefusedURL(ValueError):
    """A URL the PDF renderer may not load: anything but a file among the app's static files."""


def _static_url_path() -> str:
    """STATIC_URL's path, from the site's root ("/static/")."""
    return "/" + urlsplit(settings.STATIC_URL).path.lstrip("/")


def _static_roots() -> list[tuple[str, Path]]:
    """(URL path prefix, resolved directory) for each entry of STATICFILES_DIRS."""
    static_url = _static_url_path()
    roots = []
    for entry in settings.STATICFILES_DIRS:
        prefix, directory = entry if isinstance(entry, (list, tuple)) else ("", entry)
        url_prefix = f"{static_url.rstrip('/')}/{prefix.strip('/')}/" if prefix else static_url
        roots.append((url_prefix, Path(directory).resolve()))
    return roots


def _unhashed(path: str) -> str:
    """The static URL path of a file's own name for the path of its content-hashed name, as the
    static files storage's manifest lists it (/static/css/print.67a1f2f41723.css →
    /static/css/print.css); any other path as it is."""
    static_url = _static_url_path()
    hashed_names = getattr(staticfiles_storage, "hashed_files", None)  # only a manifest storage has them
    if not hashed_names or not path.startswith(static_url):
        return path
    names = {hashed: name for name, hashed in hashed_names.items()}
    name = names.get(path.removeprefix(static_url))
    return static_url + name if name else path


def static_file_for_url(url: str) -> Path:
    """The file among STATICFILES_DIRS that `url` names, or RefusedURL.

    Accepted: file: URLs whose path is a static URL (file:///static/css/print.css, or the hashed
    name the manifest gives it, file:///static/css/print.67a1f2f41723.css) or a path inside a
    static folder. Refused: every other scheme (http, https, data, ...), other hosts, and any path
    that resolves, through "..", symbolic links or otherwise, outside the static folders.
    """
    parts = urlsplit(url)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        raise RefusedURL(f"Only the app's static files may be loaded, not {url!r}.")
    path = _unhashed(unquote(parts.path))
    roots = _static_roots()
    candidates = [directory / path.removeprefix(prefix) for prefix, directory in roots if path.startswith(prefix)]
    candidates.append(Path(path))
    for candidate in candidates:
        try:
            resolved = candidate.resolve()
        except (OSError, ValueError):
            continue
        if resolved.is_file() and any(resolved.is_relative_to(directory) for _, directory in roots):
            return resolved
    raise RefusedURL(f"{url!r} is not one of the app's static files.")


class StaticOnlyURLFetcher(URLFetcher):
    """WeasyPrint's URL fetcher, restricted to `static_file_for_url`; it never opens a connection."""

    def fetch(self, url, headers=None):
        path = static_file_for_url(url)
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if content_type.startswith("text/"):
            content_type += "; charset=utf-8"
        # The response names the file it read: WeasyPrint may read an image again from the
        # response's path, which must be this static file, not the path the document's URL names.
        return URLFetcherResponse(path.as_uri(), path.read_bytes(), headers={"Content-Type": content_type})


def static_only_url_fetcher(url: str) -> URLFetcherResponse:
    """Fetch `url` as the PDF renderer would: a static file's response, or RefusedURL."""
    return StaticOnlyURLFetcher().fetch(url)


def render_role_profile_pdf(version: RoleProfileVersion) -> bytes:
    """The PDF of a version loaded by `roles.selectors.version_for_page`."""
    html = render_to_string(
        "roles/role_profile_pdf.html",
        {
            "version": version,
            "tables": competency_tables(version),
            "is_draft": version.status == RoleProfileVersion.Status.DRAFT,
        },
    )
    return write_pdf(html)


class PDFTooLong(Exception):
    """The document did not render within the time allowed (settings.PDF_TIME_LIMIT for a request)."""

    def __init__(self, seconds: float):
        super().__init__(f"The PDF was not made within {seconds:g} seconds.")
        self.seconds = seconds


class PDFFailed(Exception):
    """The renderer failed (the child process reported an error, or died)."""


def write_pdf(html: str, *, time_limit: float | None = None, pdf_variant: str | None = None) -> bytes:
    """`html` as a PDF, rendered in a child process that is stopped after `time_limit` seconds (PDFTooLong);
    `pdf_variant` is one of WeasyPrint's (such as "pdf/a-2a"), or None for a plain PDF.

    WeasyPrint cannot be interrupted, and a long record can take longer to lay out than a request may
    last; so it runs in a forked child, which shares nothing it could break: it touches no database
    connection, sends the PDF back through a pipe and leaves with os._exit (no clean-up that would
    close the parent's connections). The web server's and the task engine's workers run one request
    or task at a time, so nothing is half-way through a lock when the child starts.
    """
    limit = settings.PDF_TIME_LIMIT if time_limit is None else time_limit
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read_end)
        _render_in_child(html, write_end, pdf_variant)
    os.close(write_end)
    try:
        data = _read_within(read_end, limit)
    except PDFTooLong:
        os.kill(pid, signal.SIGKILL)
        raise
    finally:
        os.close(read_end)
        os.waitpid(pid, 0)
    if not data:
        raise PDFFailed("The PDF renderer stopped without a result.")
    outcome, payload, records = pickle.loads(data)  # noqa: S301 - from our own child process
    for name, level, message in records:  # WeasyPrint's warnings, logged here as if rendered here
        logging.getLogger(name).log(level, "%s", message)
    if outcome != "pdf":
        raise PDFFailed(payload)
    return payload


class _Kept(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.records: list[tuple[str, int, str]] = []

    def emit(self, record):
        self.records.append((record.name, record.levelno, record.getMessage()))


def _render_in_child(html: str, write_end: int, pdf_variant: str | None) -> NoReturn:
    kept = _Kept()
    renderer_log = logging.getLogger("weasyprint")
    renderer_log.addHandler(kept)
    renderer_log.propagate = False
    try:
        document = HTML(string=html, base_url=BASE_URL, url_fetcher=StaticOnlyURLFetcher())
        result = ("pdf", document.write_pdf(pdf_variant=pdf_variant), kept.records)
    except BaseException as error:  # noqa: BLE001 - reported to the parent, whatever it was
        result = ("error", f"{type(error).__name__}: {error}"[:500], kept.records)
    with os.fdopen(write_end, "wb") as pipe:
        pipe.write(pickle.dumps(result))
    os._exit(0)


def _read_within(fd: int, seconds: float) -> bytes:
    deadline = time.monotonic() + seconds
    chunks: list[bytes] = []
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                raise PDFTooLong(seconds)
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


def pdf_response(request, render: Callable[[], bytes], *, filename: str, page_url: str) -> HttpResponse:
    """The PDF `render` makes, inline; or, if it cannot be made in time or fails, a page that says so (503)
    and links to the page it was made from."""
    try:
        pdf = render()
    except (PDFTooLong, PDFFailed) as error:
        logger.warning("pdf not made path=%s error=%s", request.path, type(error).__name__)
        too_long = isinstance(error, PDFTooLong)
        context = {"too_long": too_long, "seconds": settings.PDF_TIME_LIMIT, "page_url": page_url}
        return TemplateResponse(request, "pdf_unavailable.html", context, status=503).render()
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response
