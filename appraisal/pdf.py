"""An appraisal record as a PDF, rendered by WeasyPrint with the same static-only URL fetcher as
role profiles: the record is built from text people type, so the renderer may load nothing else.
Each render is bounded in time (`roles.pdf.write_pdf`)."""

from django.template.loader import render_to_string

from appraisal.models import Appraisal
from appraisal.selectors import appraisal_sheet
from roles.pdf import write_pdf


def render_appraisal_pdf(appraisal: Appraisal, *, time_limit: float | None = None) -> bytes:
    """The PDF of an appraisal loaded by `appraisal.access.get_appraisal_for`: a completed record's is
    archival and tagged (PDF/A-2a: a structure tree, its language and title), as it is kept."""
    html = render_to_string(
        "appraisal/appraisal_pdf.html",
        {"appraisal": appraisal, "sheet": appraisal_sheet(appraisal), "events": appraisal.events.select_related("by")},
    )
    variant = "pdf/a-2a" if appraisal.state == Appraisal.State.COMPLETED else None
    return write_pdf(html, time_limit=time_limit, pdf_variant=variant)


def render_history_pdf(history) -> bytes:
    """The PDF of a person's competency history (`appraisal.history.person_history`), charts included."""
    html = render_to_string("appraisal/history_pdf.html", {"history": history, "person": history.person})
    return write_pdf(html)
