"""HR admins edit role profiles: drafts, their sections, windows, publishing."""

from functools import partial

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from competencies.selectors import framework_competencies
from competencies.windows import window_levels
from core.access import hr_admin_required
from core.confirm import Confirmation, is_confirmed, render_confirmation
from core.forms import add_validation_error, ordered_formset, ordered_values
from core.text import counted
from roles import services
from roles.forms import (
    OrderedItemForm,
    OrganisationSectionForm,
    PersonSpecificationItemForm,
    PublishForm,
    RoleProfileCreateForm,
    VersionDetailsForm,
    WindowsForm,
)
from roles.models import RoleProfile
from roles.selectors import competency_tables, publish_preview, version_for_page

# URL part → (service section, heading, hint)
TEXT_LIST_SECTIONS = {
    "accountabilities": ("accountabilities", "1.3 Job accountabilities", "One accountability per item."),
    "performance-measures": (
        "performance_measures",
        "1.4 Performance measures and critical success factors",
        "One measure per item.",
    ),
    "notes": (
        "discrepancies",
        "Notes on the source document",
        "Shown to HR admins on the role profile page, never to staff.",
    ),
}


def _draft(slug):
    role_profile = get_object_or_404(RoleProfile, slug=slug)
    draft = services.draft_of(role_profile)
    if draft is None:
        raise Http404("This role profile has no draft.")
    return role_profile, draft


def _apply(request, form, action, success):
    """Run a service; a ValidationError becomes errors on the form (and nothing was saved)."""
    try:
        action()
    except ValidationError as error:
        add_validation_error(form, error)
        return False
    messages.success(request, success)
    return True


def _list_page(request, draft, formset, heading, hint):
    """The page that edits one ordered list of a draft (any formset of `ordered_formset`)."""
    helper = formset.form.helper
    return render(
        request,
        "roles/edit/list.html",
        {"formset": formset, "version": draft, "heading": heading, "hint": hint, "helper": helper},
    )


@hr_admin_required
@require_http_methods(["GET", "POST"])
def role_profile_create(request):
    form = RoleProfileCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        created = {}

        def create():
            created["version"] = services.create_role_profile(by=request.user, **form.cleaned_data)

        if _apply(request, form, create, "Role profile created as a draft. Fill in its sections, then publish it."):
            return redirect("role_profile_draft", created["version"].role_profile.slug)
    return render(request, "roles/edit/create.html", {"form": form})


@hr_admin_required
@require_http_methods(["GET", "POST"])
def role_profile_draft(request, slug):
    """GET: the draft's overview. POST: start a draft (or return to the existing one)."""
    role_profile = get_object_or_404(RoleProfile, slug=slug)
    if request.method == "POST":
        started = services.start_draft(by=request.user, role_profile=role_profile)
        messages.info(
            request,
            f"You are editing draft version {started.number}. The published version stays as it is until you publish.",
        )
        return redirect("role_profile_draft", slug)
    draft = services.draft_of(role_profile)
    if draft is None:
        return redirect("role_profile_versions", slug)
    return _draft_page(request, role_profile, draft, PublishForm(version=draft))


def _draft_page(request, role_profile, draft, publish_form):
    """The draft's overview: its preview, links to edit each section, and the publish form."""
    version = version_for_page(role_profile.slug, number=draft.number, include_drafts=True)
    return render(
        request,
        "roles/edit/draft.html",
        {
            "version": version,
            "tables": competency_tables(version),
            "publish_form": publish_form,
            "current": role_profile.current_version,
        },
    )


@hr_admin_required
@require_http_methods(["GET", "POST"])
def draft_details(request, slug):
    role_profile, draft = _draft(slug)
    form = VersionDetailsForm(request.POST or None, instance=draft)
    if request.method == "POST" and form.is_valid():
        values = {name: form.cleaned_data[name] for name in form.Meta.fields}
        if _apply(
            request, form, lambda: services.update_details(by=request.user, version=draft, **values), "Details saved."
        ):
            return redirect("role_profile_draft", slug)
    return render(request, "roles/edit/details.html", {"form": form, "version": draft})


@hr_admin_required
@require_http_methods(["GET", "POST"])
def draft_text_list(request, slug, section):
    if section not in TEXT_LIST_SECTIONS:
        raise Http404
    name, heading, hint = TEXT_LIST_SECTIONS[section]
    role_profile, draft = _draft(slug)
    initial = [{"text": item.text, "ORDER": i} for i, item in enumerate(getattr(draft, name).all(), start=1)]
    FormSet = ordered_formset(OrderedItemForm)
    formset = FormSet(request.POST or None, initial=initial, prefix="items")
    if request.method == "POST" and formset.is_valid():
        texts = [item["text"] for item in ordered_values(formset)]
        services.replace_text_list(by=request.user, version=draft, section=name, texts=texts)
        messages.success(request, f"{heading} saved.")
        return redirect("role_profile_draft", slug)
    return _list_page(request, draft, formset, heading, hint)


@hr_admin_required
@require_http_methods(["GET", "POST"])
def draft_person_specification(request, slug):
    role_profile, draft = _draft(slug)
    initial = [
        {"category": item.category, "essential": "1" if item.essential else "0", "text": item.text, "ORDER": i}
        for i, item in enumerate(draft.person_specification.all(), start=1)
    ]
    formset = ordered_formset(PersonSpecificationItemForm)(request.POST or None, initial=initial, prefix="items")
    if request.method == "POST" and formset.is_valid():
        services.replace_person_specification(by=request.user, version=draft, items=ordered_values(formset))
        messages.success(request, "Person specification saved.")
        return redirect("role_profile_draft", slug)
    return _list_page(
        request,
        draft,
        formset,
        "2.1 Person specification",
        "One item per row, with its category and whether it is essential or desirable. "
        "Rows are shown grouped by category in the order of each category's first row.",
    )


@hr_admin_required
@require_http_methods(["GET", "POST"])
def draft_organisation(request, slug):
    role_profile, draft = _draft(slug)
    initial = [
        {"heading": s.heading, "items": s.items, "text": s.text, "ORDER": i}
        for i, s in enumerate(draft.organisation_sections.all(), start=1)
    ]
    formset = ordered_formset(OrganisationSectionForm, extra=1)(request.POST or None, initial=initial, prefix="items")
    if request.method == "POST" and formset.is_valid():
        sections = [
            {
                "heading": s["heading"],
                "items": [line.strip() for line in s["items"].splitlines() if line.strip()],
                "text": s["text"],
            }
            for s in ordered_values(formset)
        ]
        services.replace_organisation_sections(by=request.user, version=draft, sections=sections)
        messages.success(request, "Organisation sections saved.")
        return redirect("role_profile_draft", slug)
    return _list_page(
        request,
        draft,
        formset,
        "1.2 Organisation: further sections",
        "Anything else printed under Organisation, such as a team structure or the organisation's values.",
    )


@hr_admin_required
@require_http_methods(["GET", "POST"])
def draft_windows(request, slug):
    role_profile, draft = _draft(slug)
    competencies = list(framework_competencies().filter(retired_at__isnull=True))
    current = {r.competency_id: r.entry_level for r in draft.requirements.all()}
    form = WindowsForm(request.POST or None, competencies=competencies, current=current)
    if request.method == "POST" and form.is_valid():
        try:
            services.set_windows(by=request.user, version=draft, entry_levels=form.entry_levels())
        except ValidationError as error:
            by_pk = {c.pk: c for c in competencies}
            for competency_id, field_errors in error.message_dict.items():
                form.add_error(form.field_name(by_pk[int(competency_id)]), field_errors)
        else:
            messages.success(request, "Required windows saved. Each chosen window's indicators are shown below.")
            return redirect("role_profile_draft_windows", slug)
    # Show the indicators of the window that is chosen (saved, or submitted), so HR sees what they ask for.
    rows = []
    for competency in competencies:
        field = form[form.field_name(competency)]
        chosen = field.value()
        levels = {level.number: level for level in competency.levels.all() if level.retired_at is None}
        columns = []
        if chosen and str(chosen).isdigit():
            entry = int(chosen)
            columns = [
                {"label": label, "number": number, "level": levels.get(number)}
                for label, number in window_levels(entry)
            ]
        rows.append({"competency": competency, "field": field, "columns": columns})
    return render(request, "roles/edit/windows.html", {"form": form, "rows": rows, "version": draft})


@hr_admin_required
@require_POST
def draft_publish(request, slug):
    """Publish the draft. The publish form's POST answers with a confirmation of what will change;
    only the confirmation's POST (with confirmed=1) publishes."""
    role_profile, draft = _draft(slug)
    form = PublishForm(request.POST, version=draft)
    if form.is_valid():
        note, document_date = form.cleaned_data["note"], form.cleaned_data["document_date"]
        if not is_confirmed(request):
            confirmation = _publish_confirmation(draft, note=note, document_date=document_date)
            return render_confirmation(request, confirmation.with_posted(request))
        publishing = partial(services.publish, by=request.user, version=draft, note=note, document_date=document_date)
        if _apply(request, form, publishing, f"Version {draft.number} published: it is now the current role profile."):
            return redirect("role_profile_detail", slug)
    messages.error(request, f"Version {draft.number} was not published: see the publish form.")
    return _draft_page(request, role_profile, draft, form)


def _publish_confirmation(draft, *, note, document_date) -> Confirmation:
    """What publishing `draft` with this note and date changes, who it affects and what stays for good."""
    slug = draft.role_profile.slug
    preview = publish_preview(draft)
    current = preview.current
    date_after = document_date.strftime("%B %Y") if document_date else "Undated"
    if current is None:
        dated = date_after
    elif date_after == draft.date_label:
        dated = f"{date_after} (unchanged from version {current.number})"
    else:
        dated = f"{date_after} (version {current.number} says {draft.date_label})"
    if current is None:
        affected = "Nobody holds it yet: a role profile can be given to people once it is published."
    else:
        affected = (
            f"{counted(preview.holders, 'person holds', 'people hold')} this role profile. "
            f"Appraisals already opened keep the version they were opened against "
            f"({counted(preview.appraisals_on_current, 'appraisal', 'appraisals')} on version {current.number}); "
            f"appraisals opened from now on use version {draft.number}."
        )
    context = {"preview": preview, "version": draft, "current": current}
    details = [
        ("What changed, in your words", note),
        ("Date of this version", dated),
        ("Required windows", render_to_string("roles/edit/_publish_windows.html", context)),
    ]
    if current is not None:
        details.append(("Other sections that change", render_to_string("roles/edit/_publish_sections.html", context)))
    details += [
        ("Notes for HR to review", render_to_string("roles/edit/_publish_notes.html", context)),
        ("Who holds it", affected),
    ]
    irreversible = [
        f"Version {draft.number} is kept for good, with this note and date: "
        "a published version never changes and cannot be deleted. Later changes need a new draft."
    ]
    if current is not None:
        irreversible.append(
            f"Version {current.number} stops being the current role profile; it stays readable in the version history."
        )
    incomplete = []
    if current is not None and not preview.sections and not preview.windows:
        incomplete.append(f"This draft says the same as version {current.number}.")
    return Confirmation(
        title=f"Publish version {draft.number} of {draft.title or slug}?",
        action=reverse("role_profile_draft_publish", args=[slug]),
        button=f"Publish version {draft.number}",
        back_url=reverse("role_profile_draft", args=[slug]),
        back_label="Go back to the draft",
        lead=(
            "It becomes the current role profile: the one everybody reads and prints, "
            "and the one new appraisals are scored against."
        ),
        incomplete=incomplete,
        blocking=services.publish_problems(draft),
        irreversible=irreversible,
        details=details,
        breadcrumbs=[
            ("Role profiles", reverse("role_profile_list")),
            (f"{draft.title or slug}: draft {draft.number}", reverse("role_profile_draft", args=[slug])),
        ],
        button_style="success",
    )


@hr_admin_required
@require_POST
def draft_discard(request, slug):
    role_profile, draft = _draft(slug)
    was_new = role_profile.current_version is None
    services.discard_draft(by=request.user, version=draft)
    messages.success(request, "Draft discarded.")
    if was_new and not RoleProfile.objects.filter(pk=role_profile.pk).exists():
        return redirect("role_profile_list")
    return redirect("role_profile_versions", slug)
