from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_safe

from core.access import is_hr_admin
from roles.pdf import pdf_response, render_role_profile_pdf
from roles.selectors import current_version_for_page, version_for_page


def _pdf_response(request, version) -> HttpResponse:
    return pdf_response(
        request,
        lambda: render_role_profile_pdf(version),
        filename=f"{version.role_profile.slug}-v{version.number}.pdf",
        page_url=reverse("role_profile_detail", args=[version.role_profile.slug]),
    )


@login_required
@require_safe
def role_profile_pdf(request, slug):
    """The current published version of a role profile as a PDF."""
    return _pdf_response(request, current_version_for_page(slug))


@login_required
@require_safe
def role_profile_version_pdf(request, slug, number):
    """One version as a PDF: published versions for everyone, drafts for HR admins only (404 otherwise)."""
    return _pdf_response(request, version_for_page(slug, number=number, include_drafts=is_hr_admin(request.user)))
