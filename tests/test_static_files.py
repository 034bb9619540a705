"""Static files are served by the app itself (WhiteNoise), as one process under any WSGI server.

The suite runs with DEBUG off, as production does, on files that `collectstatic` gathered once for
the run (tests/conftest.py): pages link to content-hashed names, which come compressed when the
browser accepts it and may be cached for years. With DEBUG on (`make run`) they are served from
static/ under their own names, with nothing collected.
"""

import gzip
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.templatetags.static import static
from django.urls import reverse

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


@pytest.fixture
def development(settings, tmp_path):
    """`make run`: DEBUG on, and nothing collected (an empty STATIC_ROOT)."""
    settings.DEBUG = True
    settings.STATIC_ROOT = tmp_path / "nothing-collected"
    settings.STATIC_ROOT.mkdir()


def test_with_debug_on_files_are_served_from_static_under_their_own_names(client, development):
    page = client.get(reverse("login")).content.decode()
    assert 'href="/static/css/app.css"' in page
    response = client.get("/static/css/app.css")
    assert response.status_code == 200 and response["Cache-Control"] == "max-age=0, public"
    assert body(response) == source("css/app.css")
