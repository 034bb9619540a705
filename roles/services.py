"""Changes to role profiles. Every function is one transaction, validates its input, and is audited.

A published version never changes: edits go to the role profile's draft, which `start_draft`
creates as a copy of the current version, and `publish` makes current.
"""

import datetime
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Max, ProtectedError
from django.utils import timezone
from django.utils.text import slugify

from audit.trail import record, update_fields
from competencies.models import Competency
from core.dates import document_date_problem
from core.text import normalise_text
from roles.models import (
    CHANGE_NOTE_MAX_LENGTH,
    Accountability,
    OrganisationSection,
    PerformanceMeasure,
    PersonSpecificationItem,
    RoleProfile,
    RoleProfileVersion,
    RoleRequirement,
    SourceDiscrepancy,
)
from roles.versioning import DETAIL_FIELDS, list_changes, snapshot

AUDIT_TYPE = "role profile"
RESERVED_SLUGS = {"new"}  # addresses under /roles/ that are pages, not role profiles

# Sections edited as ordered lists of plain texts.
TEXT_LISTS: dict[str, type[Accountability] | type[PerformanceMeasure] | type[SourceDiscrepancy]] = {
    "accountabilities": Accountability,
    "performance_measures": PerformanceMeasure,
    "discrepancies": SourceDiscrepancy,
}


def require_draft(version: RoleProfileVersion) -> None:
    if version.status != RoleProfileVersion.Status.DRAFT:
        raise ValidationError("A published version never changes. Start a new draft to edit this role profile.")


def draft_of(role_profile: RoleProfile) -> RoleProfileVersion | None:
    return role_profile.versions.filter(status=RoleProfileVersion.Status.DRAFT).first()


@transaction.atomic
def create_role_profile(*, by: User, title: str, slug: str = "") -> RoleProfileVersion:
    """A new role profile, as a first draft with only its title."""
    title = normalise_text(title)
    slug = slugify(slug or title)
    if not title:
        raise ValidationError({"title": "Give the role profile a title."})
    if not slug:
        raise ValidationError({"slug": "The web address needs letters or numbers."})
    if slug in RESERVED_SLUGS or RoleProfile.objects.filter(slug=slug).exists():
        raise ValidationError({"slug": f"A role profile already uses the address “{slug}”. Choose another."})
    role_profile = RoleProfile.objects.create(slug=slug)
    version = RoleProfileVersion.objects.create(
        role_profile=role_profile, number=1, title=title, created_by=by, status=RoleProfileVersion.Status.DRAFT
    )
    record(
        actor=by,
        action="create",
        obj=version,
        object_type=AUDIT_TYPE,
        changes={"title": [None, title], "slug": [None, slug]},
    )
    return version


@transaction.atomic
def start_draft(*, by: User, role_profile: RoleProfile) -> RoleProfileVersion:
    """The role profile's draft: the existing one, or a new copy of its newest version."""
    RoleProfile.objects.select_for_update().filter(pk=role_profile.pk).first()  # one draft at a time
    existing = draft_of(role_profile)
    if existing:
        return existing
    source = role_profile.versions.order_by("-number")[0]  # a role profile is created with its first version
    number = (role_profile.versions.aggregate(Max("number"))["number__max"] or 0) + 1
    draft = RoleProfileVersion.objects.create(
        role_profile=role_profile,
        number=number,
        status=RoleProfileVersion.Status.DRAFT,
        created_by=by,
        **{name: getattr(source, name) for name, _ in DETAIL_FIELDS},
        source_document=source.source_document,
    )
    copied: list[type[models.Model]] = [
        *TEXT_LISTS.values(),
        PersonSpecificationItem,
        OrganisationSection,
        RoleRequirement,
    ]
    for model in copied:
        rows = list(model._default_manager.filter(version=source))
        for row in rows:
            row.pk = None
            row.version = draft  # type: ignore[attr-defined]  # every model of the loop belongs to a version
        model._default_manager.bulk_create(rows)
    record(
        actor=by,
        action="start draft",
        obj=draft,
        object_type=AUDIT_TYPE,
        changes={"copied from version": source.number},
    )
    return draft


@transaction.atomic
def update_details(*, by: User, version: RoleProfileVersion, **values: Any) -> dict[str, list[Any]]:
    """Set the title-block and job-description text fields of a draft."""
    require_draft(version)
    return update_fields(
        by=by,
        obj=version,
        values=values,
        clean_exclude=["role_profile", "published_by", "created_by"],
        object_type=AUDIT_TYPE,
    )


@transaction.atomic
def replace_text_list(*, by: User, version: RoleProfileVersion, section: str, texts: list[str]) -> dict[str, Any]:
    """Make a draft's accountabilities, performance measures or notes exactly `texts`, in order."""
    require_draft(version)
    model = TEXT_LISTS[section]
    texts = [text for text in map(normalise_text, texts) if text]
    before = list(model.objects.filter(version=version).values_list("text", flat=True))
    model.objects.filter(version=version).delete()
    rows = [model(version=version, position=i, text=text) for i, text in enumerate(texts, start=1)]
    model.objects.bulk_create(rows)  # type: ignore[arg-type]  # rows of `model`, which mypy sees only as one of three
    return _audit_list(by, version, section, before, texts)


@transaction.atomic
def replace_person_specification(
    *, by: User, version: RoleProfileVersion, items: list[dict[str, Any]]
) -> dict[str, Any]:
    """Items: dicts with category, essential (bool) and text, in order."""
    require_draft(version)
    items = [item for item in items if normalise_text(item["text"])]
    for item in items:
        if not normalise_text(item["category"]):
            raise ValidationError(f"Give a category for “{item['text'][:60]}”.")

    def label(category: str, essential: bool, text: str) -> str:
        return f"{category} ({'essential' if essential else 'desirable'}): {text}"

    before = [label(i.category, i.essential, i.text) for i in version.person_specification.all()]
    PersonSpecificationItem.objects.filter(version=version).delete()
    PersonSpecificationItem.objects.bulk_create(
        PersonSpecificationItem(
            version=version,
            position=i,
            category=normalise_text(item["category"]),
            essential=item["essential"],
            text=normalise_text(item["text"]),
        )
        for i, item in enumerate(items, start=1)
    )
    after = [label(normalise_text(item["category"]), item["essential"], normalise_text(item["text"])) for item in items]
    return _audit_list(by, version, "person_specification", before, after)


@transaction.atomic
def replace_organisation_sections(
    *, by: User, version: RoleProfileVersion, sections: list[dict[str, Any]]
) -> dict[str, Any]:
    """Sections: dicts with heading, items (list of str) and text, in order."""
    require_draft(version)
    sections = [s for s in sections if normalise_text(s["heading"]) or s["items"] or normalise_text(s["text"])]
    for section in sections:
        if not normalise_text(section["heading"]):
            raise ValidationError("Every further organisation section needs a heading.")

    def describe(heading: str, items: list[str], text: str) -> str:
        return " — ".join(filter(None, [heading, "; ".join(items), text]))

    before = [describe(s.heading, s.item_list(), s.text) for s in version.organisation_sections.all()]
    OrganisationSection.objects.filter(version=version).delete()
    OrganisationSection.objects.bulk_create(
        OrganisationSection(
            version=version,
            position=i,
            heading=normalise_text(s["heading"]),
            items="\n".join(s["items"]),
            text=normalise_text(s["text"]),
        )
        for i, s in enumerate(sections, start=1)
    )
    after = [describe(normalise_text(s["heading"]), s["items"], normalise_text(s["text"])) for s in sections]
    return _audit_list(by, version, "organisation_sections", before, after)


@transaction.atomic
def set_windows(
    *, by: User, version: RoleProfileVersion, entry_levels: dict[int, int | None]
) -> dict[str, list[str | None]]:
    """Set the draft's required window per competency: {competency pk: entry level, or None for not required}.

    Raises ValidationError keyed by competency pk when a window is not three levels the
    competency defines; then nothing is saved.
    """
    require_draft(version)
    competencies = {c.pk: c for c in Competency.objects.prefetch_related("levels")}
    existing = {r.competency_id: r for r in version.requirements.all()}
    errors: dict[int, list[str]] = {}
    keep: list[RoleRequirement] = []
    create: list[RoleRequirement] = []
    next_position = max((r.position for r in existing.values()), default=0) + 1
    for competency_id, entry in entry_levels.items():
        current = existing.get(competency_id)
        if entry is None:
            continue
        if current and current.entry_level == entry:
            keep.append(current)
            continue
        requirement = RoleRequirement(
            version=version,
            competency=competencies[competency_id],
            entry_level=entry,
            printed=True,  # chosen by HR from now on, no longer inferred
            position=current.position if current else next_position,
        )
        if not current:
            next_position += 1
        try:
            requirement.clean()
        except ValidationError as error:
            errors[competency_id] = error.message_dict["entry_level"]
            continue
        create.append(requirement)
    if errors:
        raise ValidationError(errors)  # type: ignore[arg-type]  # keyed by competency id, as the windows form reads them
    before = {competencies[r.competency_id].name: r.window_label for r in existing.values()}
    RoleRequirement.objects.filter(version=version).exclude(pk__in=[r.pk for r in keep]).delete()
    RoleRequirement.objects.bulk_create(create)
    after = {competencies[r.competency_id].name: r.window_label for r in keep + create}
    changes = {
        name: [before.get(name), after.get(name)] for name in {**before, **after} if before.get(name) != after.get(name)
    }
    if changes:
        record(actor=by, action="edit windows", obj=version, object_type=AUDIT_TYPE, changes=changes)
    return changes


def publish_problems(version: RoleProfileVersion) -> list[str]:
    """What must be done to a draft before it can be published; empty when it can be."""
    problems = []
    if not normalise_text(version.title):
        problems.append("Give the role profile a title before publishing it.")
    if not version.requirements.exists():
        problems.append("Choose the required window of at least one competency before publishing.")
    return problems


@transaction.atomic
def publish(
    *, by: User, version: RoleProfileVersion, note: str, document_date: datetime.date | None
) -> RoleProfileVersion:
    """Make a draft the current version; the previous version stays readable.

    `note` says what changed; it is kept with the version. `document_date` is the date the version
    carries (None: undated). The publish form offers the draft's own date, copied from the version
    it replaces, so publishing changes the document's date only when HR changes it there.
    """
    require_draft(version)
    note = normalise_text(note)
    if not note:
        raise ValidationError({"note": "Say briefly what changed in this version."})
    if len(note) > CHANGE_NOTE_MAX_LENGTH:
        raise ValidationError({"note": f"Keep the note to {CHANGE_NOTE_MAX_LENGTH} characters."})
    if (problem := document_date_problem(document_date)) is not None:
        raise ValidationError({"document_date": problem})
    if problems := publish_problems(version):
        raise ValidationError(problems)
    previous = version.role_profile.current_version
    date_before = version.date_label
    version.status = RoleProfileVersion.Status.PUBLISHED
    version.published_at = timezone.now()
    version.published_by = by
    version.document_date = document_date
    version.change_note = note
    version.save(update_fields=["status", "published_at", "published_by", "document_date", "change_note"])
    record(
        actor=by,
        action="publish",
        obj=version,
        object_type=AUDIT_TYPE,
        changes={
            "status": [RoleProfileVersion.Status.DRAFT.label, RoleProfileVersion.Status.PUBLISHED.label],
            "version": [previous.number if previous else None, version.number],
            "date": version.date_label if version.date_label == date_before else [date_before, version.date_label],
            "note": note,
        },
    )
    return version


@transaction.atomic
def discard_draft(*, by: User, version: RoleProfileVersion) -> None:
    """Throw a draft away. A role profile that was never published goes with it."""
    require_draft(version)
    role_profile = version.role_profile
    record(actor=by, action="discard draft", obj=version, object_type=AUDIT_TYPE, changes=snapshot(version)["details"])
    version.delete()
    if not role_profile.versions.exists():
        # Someone who ever held it (now or in their history) protects it from deletion.
        try:
            with transaction.atomic():
                role_profile.delete()
        except ProtectedError:
            pass


def _audit_list(
    by: User, version: RoleProfileVersion, section: str, before: list[str], after: list[str]
) -> dict[str, Any]:
    change = list_changes(before, after)
    if change["removed"] or change["added"] or change["reordered"]:
        record(actor=by, action="edit", obj=version, object_type=AUDIT_TYPE, changes={section: change})
    return change
