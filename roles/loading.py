"""Load role profiles from `fixtures/role-profiles/*.json` (format: fixtures/README.md)."""

import datetime
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from competencies.loading import FixtureError, read_json
from competencies.models import Competency
from roles.models import (
    Accountability,
    OrganisationSection,
    PerformanceMeasure,
    PersonSpecificationItem,
    RoleProfile,
    RoleProfileVersion,
    RoleRequirement,
    SourceDiscrepancy,
)


@transaction.atomic
def load_role_profile(path: Path) -> RoleProfileVersion | None:
    """Create the role profile in `path` as its first published version, unless it exists already.

    Returns the new version, or None when a role profile with that slug is already there (its
    versions are HR's to change, not the fixture's).
    """
    data = read_json(path)
    if RoleProfile.objects.filter(slug=data["slug"]).exists():
        return None
    role_profile = RoleProfile.objects.create(slug=data["slug"])
    version = RoleProfileVersion(
        role_profile=role_profile,
        number=1,
        status=RoleProfileVersion.Status.PUBLISHED,
        published_at=timezone.now(),
        title=data["title"],
        service=data.get("service", ""),
        location=data.get("location", ""),
        document_date=datetime.date.fromisoformat(data["date"]) if data.get("date") else None,
        source_document=data.get("source_document", ""),
        introduction=data.get("introduction", ""),
        purpose=data.get("purpose", ""),
        context="\n\n".join(data.get("context", [])),
        supervisor=data.get("supervisor", ""),
        peers=data.get("peers", ""),
        direct_reports=data.get("direct_reports", ""),
    )
    version.full_clean(exclude=["role_profile", "published_by"])
    version.save()

    def ordered(model, texts, **fields):
        model.objects.bulk_create(
            model(version=version, position=position, text=text, **fields)
            for position, text in enumerate(texts, start=1)
        )

    ordered(Accountability, data.get("accountabilities", []))
    ordered(PerformanceMeasure, data.get("performance_measures", []))
    ordered(SourceDiscrepancy, data.get("discrepancies", []))
    OrganisationSection.objects.bulk_create(
        OrganisationSection(
            version=version,
            position=position,
            heading=section["heading"],
            items="\n".join(section.get("items", [])),
            text=section.get("text", ""),
        )
        for position, section in enumerate(data.get("organisation_sections", []), start=1)
    )
    items = []
    for row in data.get("person_specification", []):
        for essential in (True, False):
            for text in row["essential" if essential else "desirable"]:
                items.append(
                    PersonSpecificationItem(version=version, category=row["category"], essential=essential, text=text)
                )
    for position, item in enumerate(items, start=1):
        item.position = position
    PersonSpecificationItem.objects.bulk_create(items)

    competencies = {c.slug: c for c in Competency.objects.prefetch_related("levels")}
    for position, requirement_data in enumerate(data.get("requirements", []), start=1):
        competency = competencies.get(requirement_data["competency"])
        if competency is None:
            raise FixtureError(
                f"{path}: unknown competency {requirement_data['competency']!r}; load the framework first."
            )
        requirement = RoleRequirement(
            version=version,
            competency=competency,
            position=position,
            entry_level=requirement_data["entry_level"],
            printed=requirement_data.get("printed", True),
        )
        try:
            requirement.full_clean()
        except ValidationError as error:
            raise FixtureError(f"{path}: {competency.name}: {'; '.join(error.messages)}") from error
        requirement.save()
    return version
