"""An appraisal record as a PDF, rendered by WeasyPrint with the same static-only URL fetcher as
role profiles: the record is built from text people type, so the renderer may load nothing else."""

from django.template.loader import render_to_string
from weasyprint import HTML

from appraisal.models import Appraisal
from appraisal.selectors import appraisal_sheet
from roles.pdf import BASE_URL, StaticOnlyURLFetcher


def render_appraisal_pdf(appraisal: Appraisal) -> bytes:
    """The PDF of an appraisal loaded by `appraisal.access.get_appraisal_for`."""
    html = render_to_string(
        "appraisal/appraisal_pdf.html",
        {"appraisal": appraisal, "sheet": appraisal_sheet(appraisal), "events": appraisal.events.select_related("by")},
    )
    return HTML(string=html, base_url=BASE_URL, url_fetcher=StaticOnlyURLFetcher()).write_pdf()


def render_history_pdf(history) -> bytes:
    """The PDF of a person's competency history (`appraisal.history.person_history`), charts included."""
    html = render_to_string("appraisal/history_pdf.html", {"history": history, "person": history.person})
    return HTML(string=html, base_url=BASE_URL, url_fetcher=StaticOnlyURLFetcher()).write_pdf()
