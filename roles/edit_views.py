"""HR admins edit role profiles: drafts, their sections, windows, publishing."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from competencies.selectors import framework_competencies
from competencies.windows import window_levels
from core.access import hr_admin_required
from core.forms import add_validation_error, ordered_formset, ordered_values
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
from roles.selectors import competency_tables, version_for_page

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
    version = version_for_page(slug, number=draft.number, include_drafts=True)
    return render(
        request,
        "roles/edit/draft.html",
        {
            "version": version,
            "tables": competency_tables(version),
            "publish_form": PublishForm(),
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
            messages.success(request, "Required windows saved.")
            return redirect("role_profile_draft", slug)
    # Show the indicators of the window that is chosen (or submitted), so HR sees what they ask for.
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
    role_profile, draft = _draft(slug)
    form = PublishForm(request.POST)
    if form.is_valid():
        try:
            services.publish(by=request.user, version=draft, document_date=form.cleaned_data["document_date"])
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, message)
            return redirect("role_profile_draft", slug)
        messages.success(request, f"Version {draft.number} published: it is now the current role profile.")
        return redirect("role_profile_detail", slug)
    for problem in form.errors.get("document_date", []):
        messages.error(request, f"Date of this version: {problem}")
    return redirect("role_profile_draft", slug)


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
