"""The PDF renderer loads nothing but the app's own static files, whatever a document asks for.

Documents are rendered the way the app renders its PDFs: `weasyprint.HTML(string=...,
base_url=roles.pdf.BASE_URL, url_fetcher=roles.pdf.StaticOnlyURLFetcher())`. A local HTTP server
stands in for every other host and must receive no request; no connection may be opened at all;
secret files outside the static folders (reached directly, through "..", encoded "..", symbolic
links or other hosts) must never reach the PDF; the app's own static files must still load, and an
image is embedded from the static file the fetcher checked. Through the app, markup typed into a
role profile or an appraisal is printed as text and loads nothing. (`tests/test_role_profile_pdf.py`
tests the fetcher's answer for single URLs.)
"""

import base64
import http.server
import io
import re
import socket
import struct
import threading
import zlib
from pathlib import Path
from urllib.parse import quote, urljoin

import pytest
import weasyprint
from django.conf import settings as django_settings
from django.contrib.staticfiles.storage import staticfiles_storage
from django.templatetags.static import static
from django.urls import reverse
from pypdf import PdfReader

from roles.models import RoleProfile, RoleProfileVersion
from roles.pdf import BASE_URL, RefusedURL, StaticOnlyURLFetcher, static_file_for_url
from tests.appraisals import open_appraisal, rate

APP_STATIC = Path(django_settings.STATICFILES_DIRS[0])
FROM_THE_NETWORK = "FROM-THE-NETWORK"
SECRETS = ("SECRET-TEXT", "SECRET-CSS", "SECRET-SVG", "root:x:0:0", "DATA-CSS", FROM_THE_NETWORK)


def png(rgb=(200, 30, 30), size=4) -> bytes:
    """A small valid PNG image."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + bytes(rgb) * size for _ in range(size))
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


# --- another host, and the network --------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.server.requests.append(self.path)
        body = f'body::before {{ content: "{FROM_THE_NETWORK}" }}'.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/css")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_HEAD = do_GET

    def log_message(self, *args):
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def verify_request(self, request, client_address):
        self.connections += 1  # any connection at all, even one that never sends a request
        return True

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_port}{path}"


@pytest.fixture
def server():
    """An HTTP server on 127.0.0.1 that records every connection and request."""
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.requests, httpd.connections = [], 0
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.fixture
def no_network(monkeypatch):
    """Record (and refuse) every attempt to look up a host or open a connection."""
    attempts = []

    def refuse(name):
        def refused(*args, **kwargs):
            attempts.append((name, args[1:] if name.startswith("socket.") else args))
            raise OSError(f"no network in this test ({name})")

        return refused

    for name in ("create_connection", "getaddrinfo", "gethostbyname", "gethostbyname_ex"):
        monkeypatch.setattr(socket, name, refuse(name))
    monkeypatch.setattr(socket.socket, "connect", refuse("socket.connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("socket.connect_ex"))
    return attempts


# --- files: static ones, and secrets outside ------------------------------------------------------


@pytest.fixture
def files(tmp_path, settings):
    """A static folder (first in STATICFILES_DIRS, before the app's own) with a stylesheet and an
    image, and links out of it; secret files in a private folder beside it."""
    private = tmp_path / "private"
    private.mkdir()
    (private / "secret.txt").write_text("SECRET-TEXT")
    (private / "secret.css").write_text('body::after { content: "SECRET-CSS" }')
    (private / "secret.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="20"><text x="0" y="15">SECRET-SVG</text></svg>'
    )
    (private / "secret.png").write_bytes(png((0, 0, 0)))
    static = tmp_path / "static"
    static.mkdir()
    (static / "mark.css").write_text('.mark::after { content: " STATIC-CSS-LOADED" }')
    (static / "mark.png").write_bytes(png())
    (static / "leak.css").symlink_to(private / "secret.css")
    (static / "leak.png").symlink_to(private / "secret.png")
    (static / "private").symlink_to(private, target_is_directory=True)
    settings.STATICFILES_DIRS = [static, APP_STATIC]
    return private


class RecordingFetcher(StaticOnlyURLFetcher):
    """The app's fetcher, recording what it loaded and what it refused."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.loaded, self.refused = [], []

    def fetch(self, url, headers=None):
        try:
            response = super().fetch(url, headers)
        except RefusedURL:
            self.refused.append(url)
            raise
        self.loaded.append(url)
        return response


class Recorded:
    """What the fetcher was asked for, read back from the file it was written to."""

    def __init__(self, path):
        self.path = path

    def calls(self) -> dict:
        calls: dict[str, list[str]] = {"loaded": [], "refused": []}
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                kind, url = line.split(" ", 1)
                calls[kind].append(url)
        return calls

    def __getitem__(self, kind):
        return self.calls()[kind]

    def __eq__(self, other):
        return self.calls() == other

    __hash__ = None  # type: ignore[assignment]  # compared, never a key


@pytest.fixture
def recorded(monkeypatch, tmp_path):
    """Every URL the app's own fetcher is asked for, wherever the app renders a PDF: written to a file,
    because the app renders in a child process (roles.pdf.write_pdf), whose memory the test cannot see."""
    log = tmp_path / "fetched.txt"
    fetch = StaticOnlyURLFetcher.fetch

    def recording_fetch(self, url, headers=None):
        try:
            response = fetch(self, url, headers)
        except RefusedURL:
            with log.open("a") as out:
                out.write(f"refused {url}\n")
            raise
        with log.open("a") as out:
            out.write(f"loaded {url}\n")
        return response

    monkeypatch.setattr(StaticOnlyURLFetcher, "fetch", recording_fetch)
    return Recorded(log)


def render(html: str, fetcher=None):
    """The PDF of `html` as the app renders one: its bytes, its reader and its text."""
    fetcher = fetcher if fetcher is not None else RecordingFetcher()
    pdf = weasyprint.HTML(string=html, base_url=BASE_URL, url_fetcher=fetcher).write_pdf()
    reader = PdfReader(io.BytesIO(pdf))
    return pdf, reader, "\n".join(page.extract_text() for page in reader.pages)


def hostile_document(server, private: Path) -> tuple[str, dict[str, str]]:
    """A document that asks for every kind of resource from everywhere but the static folders.

    Returns the HTML and {what it tries: the URL the renderer should ask the fetcher for}.
    """
    secret_css, secret_svg, secret_png, secret_txt = (
        private / name for name in ("secret.css", "secret.svg", "secret.png", "secret.txt")
    )
    up = "/.." * 12  # more ".." than there are folders above
    encoded_up = "/%2e%2e" * 12
    data_css = "data:text/css," + quote('body::before { content: "DATA-CSS" }')
    data_png = "data:image/png;base64," + base64.b64encode(png()).decode()
    tries = {
        "link to another host": server.url("/link.css"),
        "link to a private file": secret_css.as_uri(),
        "link through a symbolic link": "file:///static/leak.css",
        "link through a linked folder": "file:///static/private/secret.css",
        "link with .. (resolved by the renderer)": secret_css.as_uri(),
        "link with encoded ..": f"file:///static{encoded_up}{quote(str(secret_css))}",
        "link on another file host": f"file://otherhost{secret_css}",
        "link on localhost": f"file://localhost{secret_css}",
        "protocol-relative link": f"file://127.0.0.1:{server.server_port}/relative.css",
        "data: stylesheet": data_css,
        "@import over https": "https://example.org/x.css",
        "@import from another host": server.url("/import.css"),
        "@import of a private file": secret_css.as_uri(),
        "@font-face from another host": server.url("/font.woff"),
        "@font-face of /etc/passwd": "file:///etc/passwd",
        "background of /etc/shadow": "file:///etc/shadow",
        "background from another host": server.url("/background.png"),
        "content: url() of a private SVG": secret_svg.as_uri(),
        "img of /etc/passwd": "file:///etc/passwd",
        "img with .. to /etc/hostname": "file:///etc/hostname",
        "img of a private file": secret_png.as_uri(),
        "img through a symbolic link": "file:///static/leak.png",
        "data: image": data_png,
        "img from another host": server.url("/image.png"),
        "img with encoded ..": "file:///static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "img on another file host": "file://otherhost/etc/passwd",
        "object of a private SVG": secret_svg.as_uri(),
        "object from another host": server.url("/object"),
        "embed of a private SVG": secret_svg.as_uri(),
        "SVG image of a private SVG": secret_svg.as_uri(),
        "SVG image from another host": server.url("/svg-image.png"),
        "attachment of /etc/passwd": "file:///etc/passwd",
        "attachment from another host": server.url("/attachment"),
        "link attachment of a private file": secret_txt.as_uri(),
    }
    html = f"""<!doctype html>
<html><head>
<meta charset="utf-8">
<link rel="stylesheet" href="/static/css/print.css">
<link rel="stylesheet" href="/static/mark.css">
<link rel="stylesheet" href="{server.url("/link.css")}">
<link rel="stylesheet" href="{secret_css.as_uri()}">
<link rel="stylesheet" href="/static/leak.css">
<link rel="stylesheet" href="/static/private/secret.css">
<link rel="stylesheet" href="/static{up}{secret_css}">
<link rel="stylesheet" href="/static{encoded_up}{quote(str(secret_css))}">
<link rel="stylesheet" href="file://otherhost{secret_css}">
<link rel="stylesheet" href="file://localhost{secret_css}">
<link rel="stylesheet" href="//127.0.0.1:{server.server_port}/relative.css">
<link rel="stylesheet" href="{data_css}">
<link rel="attachment" href="{secret_txt.as_uri()}">
<style>
@import url("https://example.org/x.css");
@import url("{server.url("/import.css")}");
@import url("{secret_css.as_uri()}");
@font-face {{ font-family: Hostile; src: url("{server.url("/font.woff")}"), url("file:///etc/passwd"); }}
body {{ background: url(file:///etc/shadow); }}
.remote {{ background-image: url("{server.url("/background.png")}"); font-family: Hostile; }}
h1::after {{ content: url("{secret_svg.as_uri()}"); }}
</style>
</head><body>
<h1 class="mark">A document</h1>
<p class="remote">Some text.</p>
<p><img src="file:///etc/passwd" alt=""><img src="/static/../../../../etc/hostname" alt="">
<img src="{secret_png.as_uri()}" alt="">
<img src="/static/leak.png" alt=""><img src="{data_png}" alt=""><img src="{server.url("/image.png")}" alt="">
<img src="file:///static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd" alt=""><img src="file://otherhost/etc/passwd" alt="">
<img src="/static/mark.png" alt="the one image that loads"></p>
<iframe src="file:///etc/passwd"></iframe><iframe src="{server.url("/frame")}"></iframe>
<object data="{secret_svg.as_uri()}" type="image/svg+xml"></object><object data="{server.url("/object")}"></object>
<embed src="{secret_svg.as_uri()}" type="image/svg+xml">
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="200" height="40">
  <image href="{secret_svg.as_uri()}" width="100" height="20"/>
  <image xlink:href="{server.url("/svg-image.png")}" width="10" height="10"/>
</svg>
<p><a rel="attachment" href="file:///etc/passwd">passwd</a>
<a rel="attachment" href="{server.url("/attachment")}">remote</a></p>
</body></html>"""
    return html, tries


# --- the tests ------------------------------------------------------------------------------------


def test_the_server_and_the_text_checks_would_see_a_renderer_that_follows_urls(server, files):
    """The control: WeasyPrint's own fetcher, given the same kind of markup, calls the server and
    reads the private file, so the assertions below can fail."""
    html = (
        f'<p><link rel="stylesheet" href="{server.url("/control.css")}">'
        f'<link rel="stylesheet" href="{(files / "secret.css").as_uri()}">Text</p>'
    )
    pdf = weasyprint.HTML(string=html, base_url=BASE_URL).write_pdf()
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert server.requests == ["/control.css"] and server.connections == 1
    assert FROM_THE_NETWORK in text and "SECRET-CSS" in text


def test_a_hostile_document_loads_only_static_files(server, files, no_network):
    html, tries = hostile_document(server, files)
    fetcher = RecordingFetcher()
    pdf, reader, text = render(html, fetcher)

    assert server.connections == 0 and server.requests == []
    assert no_network == []
    leaked = [secret for secret in SECRETS if secret in text or secret.encode() in pdf]
    assert leaked == []
    assert reader.attachments == {}
    # The static files did load: the app's print stylesheet (its page footer), a stylesheet and an
    # image from the other static folder, and nothing else.
    assert "Page 1 of 1" in text and "STATIC-CSS-LOADED" in text
    assert sorted(fetcher.loaded) == [
        "file:///static/css/print.css",
        "file:///static/mark.css",
        "file:///static/mark.png",
    ]
    [image] = [image for page in reader.pages for image in page.images]
    assert image.image.convert("RGB").getpixel((0, 0)) == (200, 30, 30)  # mark.png's colour
    # Every other resource was asked for, and refused by the fetcher (the renderer asks once per URL).
    not_tried = {what: url for what, url in tries.items() if url not in fetcher.refused}
    assert not_tried == {}
    assert not set(fetcher.refused) & set(fetcher.loaded)


def test_a_base_element_cannot_send_relative_urls_to_another_host(server, no_network):
    html = (
        f'<html><head><base href="{server.url("/")}"><link rel="stylesheet" href="x.css"></head>'
        '<body><img src="y.png" alt=""><p style="background: url(z.png)">Text</p></body></html>'
    )
    fetcher = RecordingFetcher()
    render(html, fetcher)
    assert server.connections == 0 and no_network == []
    assert fetcher.loaded == []
    assert {server.url("/x.css"), server.url("/y.png")} <= set(fetcher.refused)


def test_an_image_is_embedded_from_the_static_file_the_fetcher_checked(tmp_path, settings):
    """WeasyPrint reads a PNG again from its response's path when it writes the PDF: that path must
    be the static file the fetcher checked, not whatever file the URL's path names on the machine
    (as "/static/…" could on a server)."""
    static, named = tmp_path / "static", tmp_path / "named"
    static.mkdir()
    named.mkdir()
    (static / "mark.png").write_bytes(png((200, 30, 30)))
    (named / "mark.png").write_bytes(png((0, 0, 0)))  # outside the static folders
    settings.STATICFILES_DIRS = [static]
    settings.STATIC_URL = f"{named}/"  # a static URL's path is also a real path here
    fetcher = RecordingFetcher()
    _, reader, _ = render(f'<img src="{named}/mark.png" alt="">', fetcher)
    assert fetcher.loaded == [f"file://{named}/mark.png"]
    [image] = [image for page in reader.pages for image in page.images]
    assert image.image.convert("RGB").getpixel((0, 0)) == (200, 30, 30)


@pytest.mark.parametrize(
    "url",
    [
        "file://localhost/etc/passwd",
        "FILE:///etc/passwd",
        "file:/etc/passwd",
        "file:etc/passwd",
        "file:///proc/self/environ",
        "file:///static",
        "file:///static/css/..%2f..%2f..%2f..%2fetc%2fpasswd",
        "file:///static/%252e%252e/%252e%252e/etc/passwd",
        "file:///static/..%5c..%5c..%5cetc%5cpasswd",
        "file:///static/css/print.css%00.png",
        "file://127.0.0.1/static/css/print.css",
        "http://127.0.0.1/static/css/print.css",
        "javascript:alert(1)",
        "jar:file:///static/css/print.css!/x",
        "about:blank",
    ],
)
def test_the_url_fetcher_refuses_other_forms_of_url(url):
    with pytest.raises(RefusedURL):
        static_file_for_url(url)


def test_the_url_fetcher_serves_every_static_folder_and_refuses_links_out_of_them(files):
    assert static_file_for_url("file:///static/mark.css").read_text().startswith(".mark")
    assert static_file_for_url("file:///static/css/print.css") == (APP_STATIC / "css" / "print.css").resolve()
    for url in ("file:///static/leak.css", "file:///static/private/secret.css", (files / "secret.css").as_uri()):
        with pytest.raises(RefusedURL):
            static_file_for_url(url)


def static_url(name: str) -> str:
    """The URL the renderer asks for when a PDF's template names a static file: with DEBUG off, its
    hashed name from the manifest (the suite's static files are collected, see tests/conftest.py)."""
    return urljoin(BASE_URL, static(name))


def test_the_url_fetcher_serves_a_static_file_by_its_hashed_name():
    url = static_url("css/print.css")
    assert re.fullmatch(r"file:///static/css/print\.[0-9a-f]{12}\.css", url)
    assert static_file_for_url(url) == (APP_STATIC / "css" / "print.css").resolve()
    assert (
        static_file_for_url(url.replace("file:///", "file://localhost/"))
        == (APP_STATIC / "css" / "print.css").resolve()
    )


@pytest.mark.parametrize(
    "path",
    [
        "css/print.0123456789ab.css",  # a hash the manifest does not list
        "css/print.{hash}.css/../../../../etc/passwd",
        "css/../css/print.{hash}.css/",
        "css/app.{hash}.css.gz",  # WhiteNoise's compressed copy, only in STATIC_ROOT
    ],
)
def test_the_url_fetcher_refuses_what_the_manifest_does_not_list(path):
    hashed = static("css/print.css").removeprefix("/static/css/print.").removesuffix(".css")
    with pytest.raises(RefusedURL):
        static_file_for_url(f"file:///static/{path.format(hash=hashed)}")


def test_a_manifest_entry_leads_no_further_than_the_name_it_stands_for(files, monkeypatch):
    """A hashed name is read back to a file's own name, which must then pass every check: an entry
    naming a linked file, a linked folder, a path with "..", or an absolute path is refused."""
    names = {
        "leak.css": "leak.0123456789ab.css",
        "private/secret.css": "private/secret.0123456789ab.css",
        "../private/secret.css": "secret.0123456789ab.css",
        str(files / "secret.css"): "absolute.0123456789ab.css",
        "mark.css": "mark.0123456789ab.css",
    }
    for name, hashed in names.items():
        monkeypatch.setitem(staticfiles_storage.hashed_files, name, hashed)
    assert static_file_for_url("file:///static/mark.0123456789ab.css").read_text().startswith(".mark")
    for hashed in list(names.values())[:-1]:
        with pytest.raises(RefusedURL):
            static_file_for_url(f"file:///static/{hashed}")


# --- end to end: text people type, through the app's PDFs ------------------------------------------


def typed_markup(server) -> str:
    return (
        f'<img src="file:///etc/passwd"><link rel=stylesheet href="{server.url("/typed.css")}">'
        f'<style>@import url("{server.url("/typed-import.css")}");</style>'
        f'<svg><image href="{server.url("/typed.png")}"/></svg>'
    )


def pdf_text(response) -> str:
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    return squash("".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages))


@pytest.mark.django_db
def test_a_role_profile_pdf_prints_typed_markup_and_loads_nothing_it_names(client, staff, server, no_network, recorded):
    markup = typed_markup(server)
    version = RoleProfile.objects.get(slug="housing-worker").current_version
    RoleProfileVersion.objects.filter(pk=version.pk).update(purpose=markup)
    client.force_login(staff)
    text = pdf_text(client.get(reverse("role_profile_pdf", args=["housing-worker"])))
    assert squash(markup) in text
    assert server.connections == 0 and no_network == []
    assert recorded == {"loaded": [static_url("css/print.css")], "refused": []}


@pytest.mark.django_db
def test_an_appraisal_pdf_prints_typed_markup_and_loads_nothing_it_names(
    client, hr, manager, staff, server, no_network, recorded
):
    markup = typed_markup(server)
    appraisal = open_appraisal(hr, staff)
    rate(appraisal, manager, evidence=markup, objectives=markup)
    client.force_login(manager)
    text = pdf_text(client.get(reverse("appraisal_pdf", args=[appraisal.pk])))
    assert text.count(squash(markup)) > 2
    assert server.connections == 0 and no_network == []
    assert sorted(set(recorded["loaded"])) == sorted(
        [static_url("css/appraisal-print.css"), static_url("css/print.css")]
    )
    assert recorded["refused"] == []
