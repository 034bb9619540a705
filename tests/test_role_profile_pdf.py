"""The role profile PDF: it reads like the document, only the right people get each version, and
the renderer loads nothing but the app's own static files."""

import io
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import urljoin

import pytest
from django.urls import reverse
from pypdf import PdfReader

from competencies.models import Indicator, Level
from roles.models import Accountability, RoleProfile, RoleProfileVersion
from roles.pdf import BASE_URL, RefusedURL, render_role_profile_pdf, static_only_url_fetcher
from roles.selectors import version_for_page
from tests.ladder import SUSTAINED_RULES, WINDOWS

pytestmark = pytest.mark.django_db

FOOTER_PAGE = re.compile(r"Page \d+ of \d+\s*$")


def squash(text: str) -> str:
    """Text without the layout: no whitespace, hyphens or bullets, so wrapped lines compare equal."""
    return re.sub(r"[\s\-\u00ad\u2010•]+", "", unicodedata.normalize("NFKC", text))


@dataclass(frozen=True)
class Pdf:
    content_type: str
    disposition: str
    pages: list[str]

    @classmethod
    def from_response(cls, response):
        assert response.status_code == 200
        assert response.content.startswith(b"%PDF-")
        pages = [page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages]
        return cls(response["Content-Type"], response["Content-Disposition"], pages)

    @property
    def text(self) -> str:
        return "\n".join(self.pages)

    @property
    def body(self) -> str:
        """The squashed text of the pages without their footers, so a sentence may run across pages."""
        lines = [line for page in self.pages for line in page.splitlines() if not FOOTER_PAGE.search(line)]
        return squash("\n".join(lines))


@pytest.fixture(scope="module")
def rendered():
    """Current-version PDFs by slug, fetched once for the module: each takes about half a second to render."""
    return {}


@pytest.fixture
def current_pdf(client, staff, rendered):
    def get(slug) -> Pdf:
        if slug not in rendered:
            client.force_login(staff)
            rendered[slug] = Pdf.from_response(client.get(reverse("role_profile_pdf", args=[slug])))
        return rendered[slug]

    return get


def window_sentences(slug) -> list[str]:
    """Every current indicator, lead sentence and sustained-level rule of the role's windows."""
    sentences = []
    for competency, entry in WINDOWS[slug].items():
        window = range(entry, entry + 3)
        indicators = Indicator.objects.current().filter(level__competency__slug=competency, level__number__in=window)
        sentences += [indicator.text for indicator in indicators]
        levels = Level.objects.filter(competency__slug=competency, number__in=window)
        sentences += [level.lead for level in levels if level.lead]
        sentences += [level.rule_text for level in levels if (competency, level.number) in SUSTAINED_RULES]
    return sentences


def make_draft(slug="support-worker-supported-housing", **fields) -> RoleProfileVersion:
    profile = RoleProfile.objects.get(slug=slug)
    return RoleProfileVersion.objects.create(
        role_profile=profile,
        number=2,
        status=RoleProfileVersion.Status.DRAFT,
        title=profile.current_version.title,
        **fields,
    )


@pytest.mark.parametrize("slug", WINDOWS)
def test_the_pdf_reads_like_the_document(current_pdf, slug):
    pdf = current_pdf(slug)
    version = version_for_page(slug)
    assert pdf.content_type == "application/pdf"
    assert pdf.disposition == f'inline; filename="{slug}-v{version.number}.pdf"'
    title_block = squash(f"Role Profile {version.title} Second Step")
    assert pdf.body.startswith(title_block)
    assert squash(version.date_label) in squash(pdf.pages[0]) and "Version 1" in pdf.pages[0]
    assert "Draft" not in pdf.text
    headings = [
        "1. Job description", "1.1 Job purpose", "1.2 Organisation", "1.3 Job accountabilities",
        "1.4 Performance measures and critical success factors", "2. People profile", "2.1 Person specification",
        "3. Competencies",
    ]  # fmt: skip
    for heading in headings:
        assert heading in pdf.text
    assert squash(version.accountabilities.first().text) in pdf.body
    for row in version.person_specification_rows():
        assert squash(row["category"]) in pdf.body
        assert all(squash(text) in pdf.body for text in row["essential"] + row["desirable"])


@pytest.mark.parametrize("slug", WINDOWS)
def test_each_competency_table_is_headed_with_the_windows_level_numbers(current_pdf, slug):
    pdf = current_pdf(slug)
    version = version_for_page(slug)
    for requirement in version.requirements.all():
        entry = WINDOWS[slug][requirement.competency.slug]
        header = f"Competency Entry Level ({entry}) Desired Level ({entry + 1}) Exceptional Level ({entry + 2})"
        assert squash(f"{header} {requirement.competency.name}") in pdf.body
    # Rows never split across pages, so no table's header row is repeated.
    assert pdf.text.count("Competency Entry Level") == len(WINDOWS[slug])


@pytest.mark.parametrize("slug", WINDOWS)
def test_the_pdf_shows_every_sentence_of_the_roles_windows(current_pdf, slug):
    pdf = current_pdf(slug)
    sentences = window_sentences(slug)
    assert sentences
    missing = [sentence for sentence in sentences if squash(sentence) not in pdf.body]
    assert missing == []


def test_the_sustained_level_rule_is_printed_where_the_window_reaches_it(current_pdf):
    rule = "Competency at Level 4 maintained for at least 1 year as recorded in annual appraisal"
    assert pdf_count(current_pdf("senior-service-coordinator-afeo"), rule) == 2
    assert pdf_count(current_pdf("support-worker-supported-housing"), rule) == 0


def pdf_count(pdf, sentence) -> int:
    return pdf.body.count(squash(sentence))


@pytest.mark.parametrize("slug", WINDOWS)
def test_every_page_has_a_footer_with_the_title_date_and_page_number(current_pdf, slug):
    pdf = current_pdf(slug)
    version = version_for_page(slug)
    pages = len(pdf.pages)
    assert pages > 1
    for number, text in enumerate(pdf.pages, start=1):
        assert f"Page {number} of {pages}" in text
        assert squash(f"{version.title} · {version.date_label}") in squash(text)


def test_the_pdf_leaves_out_the_notes_for_hr(client, hr):
    client.force_login(hr)
    pdf = Pdf.from_response(client.get(reverse("role_profile_pdf", args=["housing-worker"])))
    version = version_for_page("housing-worker")
    assert version.discrepancies.exists()
    assert "Notes for HR" not in pdf.text
    assert all(squash(note.text) not in pdf.body for note in version.discrepancies.all())


@pytest.mark.parametrize(
    "url",
    [
        reverse("role_profile_pdf", args=["support-worker-supported-housing"]),
        reverse("role_profile_version_pdf", args=["support-worker-supported-housing", 1]),
    ],
)
def test_anonymous_visitors_are_sent_to_log_in(client, url):
    response = client.get(url)
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_the_pdf_addresses_read_like_the_pages():
    assert (
        reverse("role_profile_pdf", args=["support-worker-supported-housing"])
        == "/roles/support-worker-supported-housing.pdf"
    )
    assert reverse("role_profile_version_pdf", args=["housing-worker", 1]) == "/roles/housing-worker/versions/1.pdf"


@pytest.mark.parametrize(
    "name, args",
    [
        ("role_profile_pdf", ["chief-executive"]),
        ("role_profile_version_pdf", ["chief-executive", 1]),
        ("role_profile_version_pdf", ["housing-worker", 9]),
    ],
)
def test_an_unknown_role_profile_or_version_is_not_found(client, staff, name, args):
    client.force_login(staff)
    assert client.get(reverse(name, args=args)).status_code == 404


def test_a_published_version_is_for_anyone_logged_in(client, manager, django_assert_max_num_queries):
    client.force_login(manager)
    with django_assert_max_num_queries(15):
        response = client.get(reverse("role_profile_version_pdf", args=["night-senior-support-worker", 1]))
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'inline; filename="night-senior-support-worker-v1.pdf"'


def test_a_draft_is_for_hr_admins_only_and_says_it_is_a_draft(client, hr, staff):
    make_draft(introduction="A draft introduction.")
    url = reverse("role_profile_version_pdf", args=["support-worker-supported-housing", 2])
    client.force_login(staff)
    assert client.get(url).status_code == 404
    client.force_login(hr)
    pdf = Pdf.from_response(client.get(url))
    assert pdf.disposition == 'inline; filename="support-worker-supported-housing-v2.pdf"'
    assert "Version 2 Draft" in pdf.pages[0] and "Draft · version 2 · not published" in pdf.pages[0]
    assert "A draft introduction." in pdf.text


def test_the_current_pdf_stays_the_published_version_while_a_draft_exists(client, hr):
    make_draft()
    client.force_login(hr)
    response = client.get(reverse("role_profile_pdf", args=["support-worker-supported-housing"]))
    assert response["Content-Disposition"] == 'inline; filename="support-worker-supported-housing-v1.pdf"'


def test_text_people_type_is_printed_as_text_not_markup():
    version = make_draft()
    Accountability.objects.create(version=version, position=1, text="<script>alert(1)</script><b>x</b>")
    pdf = render_role_profile_pdf(version_for_page(version.role_profile.slug, number=2, include_drafts=True))
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert squash("<script>alert(1)</script><b>x</b>") in squash(text)


def test_the_url_fetcher_serves_the_print_stylesheet(settings):
    response = static_only_url_fetcher(urljoin(BASE_URL, "/static/css/print.css"))
    assert response.content_type == "text/css"
    assert response.read() == (settings.STATICFILES_DIRS[0] / "css" / "print.css").read_bytes()


def test_the_url_fetcher_serves_a_file_url_inside_the_static_folder(settings):
    path = settings.STATICFILES_DIRS[0] / "css" / "print.css"
    assert static_only_url_fetcher(path.as_uri()).read() == path.read_bytes()


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "file:///static/../../../../etc/passwd",
        "file:///static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "file://otherhost/static/css/print.css",
        "file:///static/css/",
        "http://example.org/static/css/print.css",
        "https://example.org/static/css/print.css",
        "data:text/css,body{}",
        "ftp://example.org/x.css",
    ],
)
def test_the_url_fetcher_refuses_everything_else(url):
    with pytest.raises(RefusedURL):
        static_only_url_fetcher(url)


def test_the_url_fetcher_refuses_a_link_out_of_the_static_folder(settings, tmp_path):
    (tmp_path / "secret.txt").write_text("secret")
    static = tmp_path / "static"
    static.mkdir()
    (static / "leak.txt").symlink_to(tmp_path / "secret.txt")
    settings.STATICFILES_DIRS = [static]
    with pytest.raises(RefusedURL):
        static_only_url_fetcher(urljoin(BASE_URL, "/static/leak.txt"))
