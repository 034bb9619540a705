"""Static files are served by the app itself (WhiteNoise), as one process under any WSGI server.

The suite runs with DEBUG off, as production does, on files that `collectstatic` gathered once for
the run (tests/conftest.py): pages link to content-hashed names, which come compressed when the
browser accepts it and may be cached for years. With DEBUG on (`make run`) they are served from
static/ under their own names, with nothing collected. The icon is linked from every page and
answers at /favicon.ico too (site_root/, WHITENOISE_ROOT), where browsers look for it unasked.
"""

import gzip
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.templatetags.static import static
from django.urls import reverse
from PIL import Image

pytestmark = pytest.mark.django_db  # a finished response closes the database connections

HASHED = re.compile(r"^/static/css/app\.[0-9a-f]{12}\.css$")
TEN_YEARS = 10 * 365 * 24 * 60 * 60


def body(response) -> bytes:
    content = b"".join(response.streaming_content)
    response.close()
    return content


def source(name: str) -> bytes:
    return (Path(settings.STATICFILES_DIRS[0]) / name).read_bytes()


def test_pages_link_to_the_content_hashed_names(client):
    page = client.get(reverse("login")).content.decode()
    links = re.findall(r'href="(/static/css/app\.[^"]+)"', page)
    assert len(links) == 1 and HASHED.match(links[0]), links
    assert re.search(r'src="/static/vendor/bootstrap/bootstrap\.bundle\.min\.[0-9a-f]{12}\.js"', page)


def test_a_hashed_file_is_cached_for_years_and_sent_compressed_to_a_browser_that_accepts_it(client):
    url = static("css/app.css")
    assert HASHED.match(url)
    plain = client.get(url)
    assert plain.status_code == 200
    assert plain["Content-Type"].startswith("text/css")
    assert plain["Cache-Control"] == f"max-age={TEN_YEARS}, public, immutable"
    assert "Content-Encoding" not in plain and "Accept-Encoding" in plain["Vary"]
    assert body(plain) == source("css/app.css")

    compressed = client.get(url, headers={"Accept-Encoding": "gzip, deflate"})
    assert compressed.status_code == 200
    assert compressed["Content-Encoding"] == "gzip"
    assert compressed["Cache-Control"] == f"max-age={TEN_YEARS}, public, immutable"
    data = body(compressed)
    assert int(compressed["Content-Length"]) == len(data) < len(source("css/app.css"))
    assert gzip.decompress(data) == source("css/app.css")


def test_a_browser_that_accepts_brotli_gets_brotli(client):
    brotli = pytest.importorskip(
        "brotli"
    )  # WhiteNoise makes Brotli copies when it is installed (WeasyPrint's font tools bring it)
    response = client.get(static("css/app.css"), headers={"Accept-Encoding": "gzip, deflate, br"})
    assert response.status_code == 200 and response["Content-Encoding"] == "br"
    assert brotli.decompress(body(response)) == source("css/app.css")


def test_bootstrap_comes_compressed_to_a_fifth_of_its_size(client):
    url = static("vendor/bootstrap/bootstrap.min.css")
    response = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200 and response["Content-Encoding"] == "gzip"
    data = body(response)
    assert len(data) < len((Path(settings.STATIC_ROOT) / url.removeprefix("/static/")).read_bytes()) / 5


def test_a_file_under_its_own_name_may_be_cached_only_briefly(client):
    response = client.get("/static/css/app.css")
    assert response.status_code == 200
    assert response["Cache-Control"] == "max-age=60, public"
    assert body(response) == source("css/app.css")


def test_static_files_carry_the_security_headers_of_every_response(client):
    response = client.get(static("css/app.css"))
    body(response)
    assert response["Content-Security-Policy"] == settings.CONTENT_SECURITY_POLICY
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_a_missing_static_file_is_not_found(client):
    assert client.get("/static/css/no-such-file.css").status_code == 404
    assert client.get("/static/../config/settings.py").status_code == 404


def test_every_page_links_to_the_icon_and_browsers_find_it_at_the_root_too(client):
    page = client.get(reverse("login")).content.decode()
    assert re.search(r'<link rel="icon" href="/static/img/favicon\.[0-9a-f]{12}\.ico" sizes="32x32">', page)
    assert re.search(r'<link rel="icon" href="/static/img/favicon\.[0-9a-f]{12}\.svg" type="image/svg\+xml">', page)
    linked = client.get(static("img/favicon.ico"))
    assert linked.status_code == 200 and linked["Content-Type"] == "image/x-icon"
    at_root = client.get("/favicon.ico")
    assert at_root.status_code == 200 and at_root["Content-Type"] == "image/x-icon"
    assert at_root["Cache-Control"] == "max-age=60, public"  # its name never changes
    assert body(at_root) == body(linked) == source("img/favicon.ico")


def test_the_icon_is_drawn_at_16_and_32_pixels():
    icon = Image.open(Path(settings.STATICFILES_DIRS[0]) / "img" / "favicon.ico")
    assert icon.format == "ICO" and icon.ico.sizes() == {(16, 16), (32, 32)}
    for size in (16, 32):
        image = icon.ico.getimage((size, size)).convert("RGB")
        assert image.getpixel((size // 2, 1)) == (0x1D, 0x4F, 0x60)  # the brand's teal, as the header


def test_the_svg_icon_is_served_as_an_image_under_the_content_security_policy(client):
    response = client.get(static("img/favicon.svg"))
    svg = body(response).decode()
    assert response["Content-Type"].startswith("image/svg+xml")
    assert response["Content-Security-Policy"] == settings.CONTENT_SECURITY_POLICY
    assert "<script" not in svg and 'fill="#1d4f60"' in svg


@pytest.fixture
def development(settings, tmp_path):
    """`make run`: DEBUG on, and nothing collected (an empty STATIC_ROOT)."""
    settings.DEBUG = True
    settings.STATIC_ROOT = tmp_path / "nothing-collected"
    settings.STATIC_ROOT.mkdir()


def test_with_debug_on_files_are_served_from_static_under_their_own_names(client, development):
    page = client.get(reverse("login")).content.decode()
    assert 'href="/static/css/app.css"' in page and 'href="/static/img/favicon.ico"' in page
    response = client.get("/static/css/app.css")
    assert response.status_code == 200 and response["Cache-Control"] == "max-age=0, public"
    assert body(response) == source("css/app.css")
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and body(icon) == source("img/favicon.ico")
