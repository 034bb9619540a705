"""Every PDF is printed with its stylesheets: A4 pages with print.css's margins and page footer,
its fonts embedded, its table borders and colours drawn, and each document's own stylesheet too.

WeasyPrint does not fail when a stylesheet cannot be loaded: it logs the failure and prints the
document without it, every word still there, so tests that read only the text would pass. These
look at what is drawn on the page, as the PDFs are served (static files collected, hashed names).
Without its stylesheet a document gets WeasyPrint's own page: margins of about 20 mm, a serif
font, black text, tables without borders and no footer.
"""

import logging
import re

import pytest
from django.templatetags.static import static
from django.urls import reverse

from appraisal.models import Appraisal
from roles.pdf import RefusedURL, StaticOnlyURLFetcher
from tests.appraisals import complete, open_appraisal, promoted_history
from tests.printed import MM, read_pdf

pytestmark = pytest.mark.django_db

# static/css/print.css, shared by every PDF
A4 = (595.28, 841.89)  # @page { size: A4 }, in points
TOP, RIGHT, BOTTOM, LEFT = 18 * MM, 15 * MM, 20 * MM, 15 * MM  # @page { margin: 18mm 15mm 20mm 15mm }
FONT = re.compile(r"^/[A-Z]{6}\+DejaVu-Sans(-Bold|-Oblique|-BoldOblique)?$")  # "DejaVu Sans", a subset embedded
TEXT = (0x21, 0x25, 0x29)  # html { color: #212529 }
HEADING = (0x1D, 0x4F, 0x60)  # h2, h3, h4 { color: #1d4f60 }
BORDER = (0x86, 0x8E, 0x96)  # th, td { border: .75pt solid #868e96 }
HEADER_ROW = (0xE7, 0xF0, 0xF3)  # thead th { background: #e7f0f3 }
# static/css/appraisal-print.css: .indicator-table .level-heading th { background: #f1f3f5 }
LEVEL_HEADING_ROW = (0xF1, 0xF3, 0xF5)
# static/css/history-print.css: .levels-table .self-level { color: #6b3a06 }
SELF_LEVEL = (0x6B, 0x3A, 0x06)


def print_styling_problems(pages, log) -> list[str]:
    """What in the read pages (tests.printed) shows that print.css was not applied, and every
    warning WeasyPrint logged (such as a stylesheet it failed to load)."""
    problems = [f"WeasyPrint logged: {record.getMessage()}" for record in log]
    for page in pages:
        if abs(page.width - A4[0]) > 0.5 or abs(page.height - A4[1]) > 0.5:
            problems.append(f"page {page.number} is {page.width:.1f} × {page.height:.1f} pt, not A4")
        left = min(text.x for text in page.texts)
        if abs(left - LEFT) > 0.5:
            problems.append(f"page {page.number}: text starts {left / MM:.1f} mm from the left edge, not 15 mm")
        footer = [text for text in page.texts if text.text == f"Page {page.number} of {len(pages)}"]
        if not footer or not page.height - BOTTOM < footer[0].baseline < page.height:
            problems.append(f"page {page.number}: no footer 'Page {page.number} of {len(pages)}' in the bottom margin")
        for name, embedded in page.fonts.items():
            if not FONT.match(name):
                problems.append(f"page {page.number} uses the font {name}, not DejaVu Sans")
            if not embedded:
                problems.append(f"page {page.number}: the font {name} is not embedded")
    top = min(text.top for text in pages[0].texts)
    if abs(top - TOP) > 1.5:
        problems.append(f"the first line is {top / MM:.1f} mm from the top of the page, not 18 mm")
    fonts = {re.sub(r"^/[A-Z]{6}\+", "", name) for page in pages for name in page.fonts}
    if not {"DejaVu-Sans", "DejaVu-Sans-Bold"} <= fonts:
        problems.append(f"the fonts are {sorted(fonts)}, not DejaVu Sans with its bold")
    borders = [line for page in pages for line in page.lines if line.colour == BORDER and abs(line.width - 0.75) < 0.01]
    if len(borders) < 20:
        problems.append(f"{len(borders)} table borders drawn (.75pt, #868e96)")
    elif abs(max(max(line.x0, line.x1) for line in borders) - (A4[0] - RIGHT)) > 0.5:
        problems.append("the tables do not reach the right margin (15 mm from the edge)")
    if not any(HEADER_ROW in page.fill_colours for page in pages):
        problems.append("no table header row is shaded #e7f0f3")
    colours = [colour for page in pages for colour in page.text_colours]
    if max(set(colours), key=colours.count, default=None) != TEXT:
        problems.append("the text is not mostly #212529")
    if HEADING not in colours:
        problems.append("no heading is in #1d4f60")
    return problems


def assert_printed_with_stylesheets(pages, log) -> None:
    problems = print_styling_problems(pages, log)
    assert not problems, "Printed without its styling:\n" + "\n".join(problems)


@pytest.fixture
def weasyprint_log(caplog):
    """WeasyPrint's warnings and errors while a test renders."""
    caplog.set_level(logging.WARNING, logger="weasyprint")
    return lambda: [
        record
        for record in caplog.records
        if record.name.startswith("weasyprint") and record.levelno >= logging.WARNING
    ]


def downloaded(client, user, url) -> list:
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    return read_pdf(response.content)


def test_the_role_profile_pdf_is_printed_with_its_stylesheet(client, staff, weasyprint_log):
    pages = downloaded(client, staff, reverse("role_profile_pdf", args=["housing-worker"]))
    assert len(pages) > 3
    assert_printed_with_stylesheets(pages, weasyprint_log())


def test_the_appraisal_pdf_is_printed_with_its_own_stylesheet_too(client, hr, manager, staff, weasyprint_log):
    appraisal = complete(open_appraisal(hr, staff), manager=manager, staff=staff)
    assert Appraisal.objects.get(pk=appraisal.pk).is_completed
    pages = downloaded(client, staff, reverse("appraisal_pdf", args=[appraisal.pk]))
    assert_printed_with_stylesheets(pages, weasyprint_log())
    assert any(LEVEL_HEADING_ROW in page.fill_colours for page in pages), (
        "appraisal-print.css: level rows shaded #f1f3f5"
    )


def test_the_history_pdf_is_printed_with_its_own_stylesheet_too(client, hr, manager, staff, weasyprint_log):
    promoted_history(hr, manager, staff)  # self-assessed in 2026
    pages = downloaded(client, staff, reverse("my_history_pdf"))
    assert_printed_with_stylesheets(pages, weasyprint_log())
    assert any(SELF_LEVEL in page.text_colours for page in pages), "history-print.css: self-assessed levels in #6b3a06"


def test_with_debug_on_the_stylesheets_load_under_their_own_names(client, staff, settings, weasyprint_log):
    """`make run`: nothing collected, and {% static %} names the files as they are in static/."""
    settings.DEBUG = True
    assert static("css/print.css") == "/static/css/print.css"
    pages = downloaded(client, staff, reverse("role_profile_pdf", args=["housing-worker"]))
    assert_printed_with_stylesheets(pages, weasyprint_log())


def test_the_checks_see_a_pdf_printed_without_its_stylesheet(client, staff, weasyprint_log, monkeypatch):
    """The control: the same role profile with every stylesheet refused, as WeasyPrint prints it."""

    def refuse(self, url, headers=None):
        raise RefusedURL(url)

    monkeypatch.setattr(StaticOnlyURLFetcher, "fetch", refuse)
    pages = downloaded(client, staff, reverse("role_profile_pdf", args=["housing-worker"]))
    problems = print_styling_problems(pages, weasyprint_log())
    assert any(
        problem.startswith("WeasyPrint logged: Failed to load stylesheet at file:///static/css/print.")
        for problem in problems
    )
    assert "page 1: text starts 22.0 mm from the left edge, not 15 mm" in problems
    assert "page 1: no footer 'Page 1 of " + str(len(pages)) + "' in the bottom margin" in problems
    assert any(re.match(r"page 1 uses the font /[A-Z]{6}\+DejaVu-Serif", problem) for problem in problems)
    assert "0 table borders drawn (.75pt, #868e96)" in problems
    assert "no table header row is shaded #e7f0f3" in problems and "no heading is in #1d4f60" in problems
