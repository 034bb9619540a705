"""The framework as role profiles use it: which current and draft role profiles require a competency
or one of its levels, and retiring one only when none does.

These rules need both the framework and the role profiles, so they live here, above `competencies`.
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from audit.trail import record
from competencies.models import Competency, Level
from competencies.windows import window_name
from roles.models import RoleProfileVersion, RoleRequirement


def usage(competency: Competency, number: int | None = None) -> list[dict]:
    """Current and draft role profile versions that require `competency` (at level `number`, if given).

    Each: {"version", "label"}, label naming the window's column the level falls in.
    """
    requirements = RoleRequirement.objects.filter(competency=competency).select_related("version__role_profile")
    current_ids = {
        profile_id: max_number
        for profile_id, max_number in RoleProfileVersion.objects.filter(status=RoleProfileVersion.Status.PUBLISHED)
        .values_list("role_profile")
        .annotate(Max("number"))
    }
    uses = []
    for requirement in requirements:
        version = requirement.version
        is_current = (
            version.status == RoleProfileVersion.Status.PUBLISHED
            and current_ids.get(version.role_profile_id) == version.number
        )
        if not (is_current or version.status == RoleProfileVersion.Status.DRAFT):
            continue
        if number is not None and number not in requirement.window:
            continue
        label = window_name(number, requirement.entry_level) if number else requirement.window_label
        uses.append({"version": version, "label": label, "draft": version.status == RoleProfileVersion.Status.DRAFT})
    return sorted(uses, key=lambda use: (use["version"].title, use["version"].number))


def _describe_uses(uses) -> str:
    return "; ".join(f"{use['version'].title}{' (draft)' if use['draft'] else ''}" for use in uses)


@transaction.atomic
def retire_competency(*, by, competency: Competency) -> None:
    uses = usage(competency)
    if uses:
        raise ValidationError(
            f"{competency.name} is required by {_describe_uses(uses)}. Remove it from those role profiles first."
        )
    competency.retired_at = timezone.now()
    competency.save(update_fields=["retired_at"])
    record(actor=by, action="retire", obj=competency, changes={"retired_at": [None, competency.retired_at]})


@transaction.atomic
def retire_level(*, by, level: Level) -> None:
    uses = usage(level.competency, level.number)
    if uses:
        raise ValidationError(
            f"Level {level.number} of {level.competency.name} is in the window of {_describe_uses(uses)}. "
            "Change those windows first."
        )
    level.retired_at = timezone.now()
    level.save(update_fields=["retired_at"])
    record(actor=by, action="retire", obj=level, changes={"retired_at": [None, level.retired_at]})
