"""Every PDF is made within a time limit (roles.pdf.write_pdf): a document too long to lay out in time gets a
page that says so, never a server error, and the renderer never outlives the limit."""

import logging
import os
import time

import pytest
from django.urls import reverse

from appraisal.services import workflow
from roles import pdf
from tests.appraisals import complete, fresh, open_appraisal, rate


def no_children_left() -> bool:
    try:
        return os.waitpid(-1, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return True  # none at all


def test_a_pdf_is_made_in_a_child_process_within_the_limit():
    document = pdf.write_pdf("<h1>Annual appraisal</h1><p>A short record.</p>", time_limit=20)
    assert document.startswith(b"%PDF-")
    assert no_children_left()


def test_a_render_that_runs_too_long_is_stopped_at_the_limit():
    started = time.monotonic()
    with pytest.raises(pdf.PDFTooLong, match="within 0.3 seconds"):
        pdf.write_pdf("<p>A very long note.</p>" * 40_000, time_limit=0.3)
    assert time.monotonic() - started < 2  # stopped, not waited for
    assert no_children_left()  # the child was killed and reaped


def test_a_renderer_that_fails_is_reported_and_its_warnings_logged_here(monkeypatch, caplog):
    class Broken:
        def __init__(self, *args, **kwargs):
            logging.getLogger("weasyprint").warning("Failed to load stylesheet at file:///nowhere.css")
            raise RuntimeError("the renderer broke")

    monkeypatch.setattr(pdf, "HTML", Broken)
    caplog.set_level(logging.WARNING, logger="weasyprint")
    with pytest.raises(pdf.PDFFailed, match="RuntimeError: the renderer broke"):
        pdf.write_pdf("<p>Anything</p>")
    assert [record.getMessage() for record in caplog.records if record.name == "weasyprint"] == [
        "Failed to load stylesheet at file:///nowhere.css"
    ]
    assert no_children_left()


@pytest.mark.parametrize("kind", ["appraisal", "history", "role profile"])
def test_a_pdf_too_long_to_make_in_time_is_a_page_that_says_so(kind, client, settings, hr, manager, staff, caplog):
    complete(open_appraisal(hr, staff, year=2025), manager=manager, staff=staff)  # a history to print
    # A record shared for sign-off: made each time it is downloaded (a completed one is kept: test_record_pdfs.py).
    appraisal = workflow.share(by=fresh(manager), appraisal=rate(open_appraisal(hr, staff), manager))
    url, page = {
        "appraisal": (reverse("appraisal_pdf", args=[appraisal.pk]), reverse("appraisal", args=[appraisal.pk])),
        "history": (reverse("my_history_pdf"), reverse("my_history")),
        "role profile": (
            reverse("role_profile_pdf", args=["support-worker-supported-housing"]),
            reverse("role_profile_detail", args=["support-worker-supported-housing"]),
        ),
    }[kind]
    client.force_login(staff)
    assert client.get(url)["Content-Type"] == "application/pdf"

    settings.PDF_TIME_LIMIT = 0.05
    started = time.monotonic()
    response = client.get(url)
    assert time.monotonic() - started < 3
    assert response.status_code == 503 and response["Content-Type"].startswith("text/html")
    text = response.content.decode()
    assert "too long to make into a PDF within 0.05 seconds" in text
    assert "The PDF could not be made" in text and f'href="{page}"' in text
    assert any("pdf not made" in record.getMessage() for record in caplog.records)
    assert no_children_left()


def test_a_record_with_every_field_at_its_limit_makes_a_pdf_within_the_request_limit(hr, manager, staff):
    """The text limits (appraisal/forms.py) keep the longest possible record inside settings.PDF_TIME_LIMIT."""
    from django.conf import settings

    from appraisal.forms import EVIDENCE_LIMIT, NOTE_LIMIT, TEXT_LIMIT
    from appraisal.models import Appraisal, IndicatorRating, MeasureReview, ScoredCompetency
    from appraisal.pdf import render_appraisal_pdf

    def text(length):
        return ("Supported the resident's move-on plan with the housing officer. " * (length // 60 + 1))[:length]

    appraisal = complete(open_appraisal(hr, staff), manager=manager, staff=staff)
    IndicatorRating.objects.filter(scored_competency__appraisal=appraisal).update(
        evidence=text(EVIDENCE_LIMIT), self_evidence=text(EVIDENCE_LIMIT)
    )
    ScoredCompetency.objects.filter(appraisal=appraisal).update(override_reason=text(NOTE_LIMIT))
    MeasureReview.objects.filter(appraisal=appraisal).update(comment=text(NOTE_LIMIT))
    long_texts = ("objectives", "development_plan", "manager_comments", "staff_comments", "countersign_comments")
    Appraisal.objects.filter(pk=appraisal.pk).update(
        self_assessment_comments=text(TEXT_LIMIT), **{name: text(TEXT_LIMIT) for name in long_texts}
    )
    started = time.monotonic()
    document = render_appraisal_pdf(Appraisal.objects.get(pk=appraisal.pk))  # raises PDFTooLong past the limit
    took = time.monotonic() - started
    assert document.startswith(b"%PDF-") and took < settings.PDF_TIME_LIMIT
