import itertools
from collections.abc import Iterable

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_safe

from core.access import is_hr_admin
from roles.models import RoleProfile, RoleProfileVersion
from roles.selectors import competency_tables, current_role_profiles, current_version_for_page, version_for_page
from roles.services import draft_of
from roles.versioning import diff, snapshot


@login_required
@require_safe
def role_profile_list(request):
    profiles = current_role_profiles()
    drafts: Iterable[RoleProfileVersion] = []
    if is_hr_admin(request.user):
        drafts = (
            RoleProfileVersion.objects.filter(status=RoleProfileVersion.Status.DRAFT)
            .select_related("role_profile", "created_by")
            .order_by("title")
        )
    return render(request, "roles/role_profile_list.html", {"profiles": profiles, "drafts": drafts})


@login_required
@require_safe
def role_profile_detail(request, slug):
    hr = is_hr_admin(request.user)
    if (
        hr
        and not RoleProfileVersion.objects.filter(
            role_profile__slug=slug, status=RoleProfileVersion.Status.PUBLISHED
        ).exists()
    ):
        return redirect("role_profile_draft", slug)  # a new role profile, not yet published
    version = current_version_for_page(slug)
    return _version_page(request, version, hr=hr)


@login_required
@require_safe
def role_profile_version(request, slug, number):
    hr = is_hr_admin(request.user)
    version = version_for_page(slug, number=number, include_drafts=hr)
    return _version_page(request, version, hr=hr)


def _version_page(request, version, *, hr):
    role_profile = version.role_profile
    context = {
        "version": version,
        "tables": competency_tables(version),
        "show_discrepancies": hr,
        "is_current": version.pk == getattr(role_profile.current_version, "pk", None),
        "draft": draft_of(role_profile) if hr else None,
    }
    return render(request, "roles/role_profile_detail.html", context)


@login_required
@require_safe
def role_profile_versions(request, slug):
    """Version history: who published what and when; HR admins also see the draft."""
    role_profile = get_object_or_404(RoleProfile, slug=slug)
    shown = role_profile.versions.select_related("published_by", "created_by").order_by("-number")
    if not is_hr_admin(request.user):
        shown = shown.filter(status=RoleProfileVersion.Status.PUBLISHED)
    versions = list(shown)
    if not versions:
        raise Http404("No such role profile.")
    published = [v for v in versions if v.status == RoleProfileVersion.Status.PUBLISHED]
    for version, older in itertools.pairwise(versions):
        version.previous_number = older.number  # type: ignore[attr-defined]  # for the template
    return render(
        request,
        "roles/versions.html",
        {"role_profile": role_profile, "versions": versions, "current": published[0] if published else None},
    )


@login_required
@require_safe
def role_profile_compare(request, slug):
    """What changed between two versions (?from=1&to=2): sections and windows."""
    hr = is_hr_admin(request.user)
    try:
        numbers = int(request.GET["from"]), int(request.GET["to"])
    except (KeyError, ValueError):
        raise Http404("Choose two versions to compare.") from None
    older, newer = (version_for_page(slug, number=n, include_drafts=hr) for n in numbers)
    changes = diff(snapshot(older), snapshot(newer))
    # What HR noted on publishing each version after the older one, up to the newer one.
    low, high = sorted(numbers)
    notes = older.role_profile.versions.filter(
        status=RoleProfileVersion.Status.PUBLISHED, number__gt=low, number__lte=high
    ).order_by("number")
    return render(
        request, "roles/compare.html", {"older": older, "newer": newer, "changes": changes, "notes": list(notes)}
    )
