from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import OuterRef, Subquery
from django.http import Http404

from competencies.models import Competency
from competencies.selectors import framework_competencies
from competencies.windows import window_levels
from roles.models import RoleProfile, RoleProfileVersion, RoleRequirement
from roles.versioning import diff, mentions, snapshot, window_changes


def current_title(role_profile: str = "pk") -> Subquery:
    """The title of the newest published version of the role profile whose id is the outer query's
    `role_profile` field, for `.annotate()`."""
    published = RoleProfileVersion.objects.filter(
        role_profile=OuterRef(role_profile), status=RoleProfileVersion.Status.PUBLISHED
    )
    return Subquery(published.order_by("-number").values("title")[:1])


def current_role_profiles() -> list[RoleProfile]:
    """Role profiles with a published version, sorted by the current title."""
    profiles = list(RoleProfile.objects.with_current_version())
    return sorted(profiles, key=lambda profile: profile.current_version.title.lower())


def version_for_page(slug: str, *, number: int | None = None, include_drafts: bool = False) -> RoleProfileVersion:
    """A role profile version with every section and its windows' framework levels, ready to render.

    Without `number`, the newest version (the current published one, or the newest draft when
    `include_drafts`). Raises Http404 when there is no such version, or it is a draft and drafts
    are not included: a draft's existence is not revealed to those who may not see it.
    """
    versions = RoleProfileVersion.objects.filter(role_profile__slug=slug)
    if number is not None:
        versions = versions.filter(number=number)
    if not include_drafts:
        versions = versions.filter(status=RoleProfileVersion.Status.PUBLISHED)
    version = (
        versions.select_related("role_profile", "published_by", "created_by")
        .prefetch_related(
            "organisation_sections",
            "accountabilities",
            "performance_measures",
            "person_specification",
            "discrepancies",
            "requirements",
        )
        .order_by("-number")
        .first()
    )
    if version is None:
        raise Http404("No such role profile.")
    competencies = {competency.pk: competency for competency in framework_competencies()}
    for requirement in version.requirements.all():
        requirement.competency = competencies[requirement.competency_id]
    return version


def current_version_for_page(slug: str) -> RoleProfileVersion:
    """The current published version of a role profile, ready to render (Http404 if none)."""
    return version_for_page(slug)


def competency_tables(version: RoleProfileVersion) -> list[dict[str, Any]]:
    """Per requirement of a version loaded by `version_for_page`: the requirement and its three columns."""
    return [
        {"requirement": requirement, "columns": window_table(requirement)} for requirement in version.requirements.all()
    ]


def window_table(requirement: RoleRequirement) -> list[dict[str, Any]]:
    """The Entry / Desired / Exceptional columns of a requirement, each with its level of the framework."""
    levels = {level.number: level for level in requirement.competency.levels.all()}
    return [
        {"label": label, "number": number, "level": levels.get(number)}
        for label, number in window_levels(requirement.entry_level)
    ]


def matrix(competencies: Iterable[Competency] | None = None) -> tuple[list[Competency], list[dict[str, Any]]]:
    """Role profiles (current versions) × competencies, each cell the role's requirement or None.

    `competencies` defaults to the framework's competencies without their levels.
    """
    competencies = list(Competency.objects.current() if competencies is None else competencies)
    by_pk = {competency.pk: competency for competency in competencies}
    versions = [profile.current_version for profile in current_role_profiles()]
    by_cell: dict[tuple[int, int], RoleRequirement] = {}
    for requirement in RoleRequirement.objects.filter(version__in=versions):
        requirement.competency = by_pk[requirement.competency_id]
        by_cell[requirement.version_id, requirement.competency_id] = requirement
    rows = [
        {"version": version, "cells": [by_cell.get((version.pk, competency.pk)) for competency in competencies]}
        for version in versions
    ]
    return competencies, rows


@dataclass
class PublishPreview:
    """What publishing a draft changes, for the confirmation that asks first."""

    current: RoleProfileVersion | None  # the version it replaces; None for a new role profile
    sections: list[str]  # the sections other than the windows that differ from `current`
    windows: list[tuple[str, str | None, str | None]]  # (competency, window before, after); None: not required
    notes_to_review: list[tuple[int, str, list[str]]]  # (index among the notes, text, changed competencies named)
    holders: int  # people who hold the role profile now
    appraisals_on_current: int  # appraisals opened against `current`, which keep it


def publish_preview(draft: RoleProfileVersion) -> PublishPreview:
    """What changes from the current version to `draft`, as the compare page computes it, and the
    notes for HR in the draft that name a competency whose window changes."""
    role_profile = draft.role_profile
    current = role_profile.current_version
    after = snapshot(draft)
    if current is None:
        changes: list[dict[str, Any]] = []
        windows: list[tuple[str, str | None, str | None]] = [(name, None, w) for name, w in after["windows"].items()]
    else:
        changes = diff(snapshot(current), after)
        windows = window_changes(changes)
    changed = [competency for competency, _, _ in windows]
    notes = [(i, text, named) for i, text in enumerate(after["discrepancies"]) if (named := mentions(text, changed))]
    return PublishPreview(
        current=current,
        sections=[change["section"] for change in changes if change["kind"] != "windows"],
        windows=windows,
        notes_to_review=notes,
        holders=role_profile.holders.active().count(),
        appraisals_on_current=current.appraisals.count() if current else 0,
    )
