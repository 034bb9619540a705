"""A role profile version as a PDF that reads like the organisation's source documents.

WeasyPrint renders `templates/roles/role_profile_pdf.html` with `static/css/print.css`. It may load
nothing but the app's own static files: the document is built from text people type, and a PDF
renderer that follows any URL would read the server's files or call other hosts on their behalf.
"""

import mimetypes
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.template.loader import render_to_string
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

from roles.models import RoleProfileVersion
from roles.selectors import competency_tables

# The document's own links are site paths ("/static/css/print.css"); against this base they
# arrive at the fetcher as file:///static/css/print.css, which it reads as a static file's URL.
BASE_URL = "file:///"


class RefusedURL(ValueError):
    """A URL the PDF renderer may not load: anything but a file among the app's static files."""


def _static_roots() -> list[tuple[str, Path]]:
    """(URL path prefix, resolved directory) for each entry of STATICFILES_DIRS."""
    static_url = urlsplit(settings.STATIC_URL).path
    if not static_url.startswith("/"):
        static_url = "/" + static_url
    roots = []
    for entry in settings.STATICFILES_DIRS:
        prefix, directory = entry if isinstance(entry, (list, tuple)) else ("", entry)
        url_prefix = f"{static_url.rstrip('/')}/{prefix.strip('/')}/" if prefix else static_url
        roots.append((url_prefix, Path(directory).resolve()))
    return roots


def static_file_for_url(url: str) -> Path:
    """The file among STATICFILES_DIRS that `url` names, or RefusedURL.

    Accepted: file: URLs whose path is a static URL (file:///static/css/print.css) or a path inside
    a static folder. Refused: every other scheme (http, https, data, ...), other hosts, and any
    path that resolves, through "..", symbolic links or otherwise, outside the static folders.
    """
    parts = urlsplit(url)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        raise RefusedURL(f"Only the app's static files may be loaded, not {url!r}.")
    path = unquote(parts.path)
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
        {"version": version, "tables": competency_tables(version), "is_draft": version.status == RoleProfileVersion.Status.DRAFT},
    )
    document = HTML(string=html, base_url=BASE_URL, url_fetcher=StaticOnlyURLFetcher())
    return document.write_pdf()
