"""Confirmation before an irreversible step: a page, so that it works without JavaScript.

The step's own form posts to the step's URL as before. Without `confirmed=1` in the POST the view
answers with a `Confirmation` page (nothing is changed): what is incomplete, who will be told, what
cannot be undone, and a form that posts everything again with `confirmed=1`. Only that second POST
does the step.
"""

from dataclasses import dataclass, field

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

CONFIRMED = "confirmed"


def is_confirmed(request: HttpRequest) -> bool:
    """Whether this POST is the one sent from the confirmation page."""
    return request.POST.get(CONFIRMED) == "1"


@dataclass
class Confirmation:
    title: str  # the page's heading: what is about to happen ("Send your self-assessment to Sam Patel?")
    action: str  # the step's URL, posted to again with confirmed=1
    button: str  # the confirming button's words ("Send it")
    back_url: str  # where "Go back" leads, changing nothing
    lead: str = ""  # one sentence under the heading
    incomplete: list[str] = field(default_factory=list)  # what is not done yet; the step may still go ahead
    blocking: list[str] = field(default_factory=list)  # what must be done first: no confirming button
    notified: list[str] = field(default_factory=list)  # who will be told, and how
    links: list[tuple[str, str]] = field(default_factory=list)  # (label, url): a step to take first (invite them)
    irreversible: list[str] = field(default_factory=list)  # what cannot be undone afterwards
    details: list[tuple[str, str]] = field(default_factory=list)  # (label, value) of what was entered
    breadcrumbs: list[tuple[str, str]] = field(default_factory=list)  # (label, url) before "Confirm"
    button_style: str = "primary"  # a Bootstrap button variant: primary, danger…
    back_label: str = "Go back"
    hidden: list[tuple[str, str]] = field(default_factory=list)  # posted again (see `with_posted`)

    def with_posted(self, request: HttpRequest) -> "Confirmation":
        """Carry the step's posted fields to the confirmation's form (not the CSRF token or the flag)."""
        self.hidden = [
            (name, value)
            for name, values in request.POST.lists()
            if name not in ("csrfmiddlewaretoken", CONFIRMED)
            for value in values
        ]
        return self


def render_confirmation(request: HttpRequest, confirmation: Confirmation) -> HttpResponse:
    return render(request, "core/confirm.html", {"confirm": confirmation})
