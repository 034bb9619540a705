"""Changes to the competency framework. Each function is one transaction, validated and audited.

Indicator rows are never changed in place: rewording one retires it and adds a new row that
`replaces` it, so whatever refers to the old row (a completed appraisal) keeps its words.
"""

from collections.abc import Sequence
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone
from django.utils.text import slugify

from audit.trail import field_changes, record, update_fields
from competencies.models import HIGHEST_LEVEL, LOWEST_LEVEL, Competency, Indicator, Level
from core.text import normalise_text

# A level's fields as its "create" entry records them (a retired level that comes back shows what it was).
LEVEL_AUDIT_FIELDS = ["number", "lead", "rule_text", "sustained_level", "sustained_months", "retired_at"]

# A position no indicator holds, used while positions are reassigned (the unique constraint
# on current positions is checked row by row on SQLite).
_PARKING = 10_000


@transaction.atomic
def create_competency(*, by: User, name: str, relevance_to_recovery: str = "", note: str = "") -> Competency:
    name = normalise_text(name)
    if Competency.objects.filter(name__iexact=name).exists():
        raise ValidationError({"name": "A competency with this name exists already."})
    slug = slugify(name)
    if not slug or Competency.objects.filter(slug=slug).exists():
        raise ValidationError({"name": "Choose a name that gives a new web address."})
    position = (Competency.objects.aggregate(Max("position"))["position__max"] or 0) + 1
    competency = Competency(
        slug=slug, name=name, position=position, relevance_to_recovery=relevance_to_recovery, note=note
    )
    competency.full_clean()
    competency.save()
    after = {"name": name, "position": position, "relevance_to_recovery": relevance_to_recovery, "note": note}
    record(
        actor=by,
        action="create",
        obj=competency,
        changes=field_changes({"relevance_to_recovery": "", "note": ""}, after),
    )
    return competency


@transaction.atomic
def update_competency(*, by: User, competency: Competency, **values: Any) -> dict[str, list[Any]]:
    if (
        "name" in values
        and Competency.objects.exclude(pk=competency.pk).filter(name__iexact=normalise_text(values["name"])).exists()
    ):
        raise ValidationError({"name": "Another competency has this name."})
    return update_fields(by=by, obj=competency, values=values)


@transaction.atomic
def move_competency(*, by: User, competency: Competency, step: int) -> None:
    """Move a competency one place up (step -1) or down (+1) in the framework's order."""
    ordered = list(Competency.objects.current().select_for_update())
    index = next(i for i, c in enumerate(ordered) if c.pk == competency.pk)
    other = index + step
    if not 0 <= other < len(ordered):
        return
    ordered[index], ordered[other] = ordered[other], ordered[index]
    for position, item in enumerate(ordered, start=1):
        if item.position != position:
            Competency.objects.filter(pk=item.pk).update(position=position)
    record(
        actor=by,
        action="reorder",
        obj=competency,
        changes={"position": [index + 1, other + 1], "swapped with": ordered[index].name},
    )


@transaction.atomic
def add_level(
    *,
    by: User,
    competency: Competency,
    number: int,
    lead: str = "",
    indicators: Sequence[str] = (),
    sustained_level: int | None = None,
    sustained_months: int | None = None,
    rule_text: str = "",
) -> Level:
    indicators = [text for text in map(normalise_text, indicators) if text]
    if not LOWEST_LEVEL <= number <= HIGHEST_LEVEL:
        raise ValidationError({"number": "A level is a number from 1 to 5."})
    if competency.levels.current().filter(number=number).exists():
        raise ValidationError({"number": f"{competency.name} already defines level {number}."})
    is_rule = sustained_level is not None
    if is_rule == bool(indicators):
        raise ValidationError(
            "A level has either behavioural indicators or a sustained-level rule, not both and not neither."
        )
    level = competency.levels.filter(number=number).first()  # a retired level comes back
    if level is None:
        level = Level(competency=competency, number=number)
    before = {name: getattr(level if level.pk else Level(), name) for name in LEVEL_AUDIT_FIELDS}
    level.lead, level.rule_text, level.retired_at = (
        normalise_text(lead),
        normalise_text(rule_text) if is_rule else "",
        None,
    )
    level.sustained_level, level.sustained_months = (sustained_level, sustained_months) if is_rule else (None, None)
    level.full_clean()
    level.save()
    _add_indicators(level, indicators, start=_next_position(level))
    changes = field_changes(before, {name: getattr(level, name) for name in LEVEL_AUDIT_FIELDS})
    if indicators:
        changes["indicators"] = [[], indicators]
    record(actor=by, action="create", obj=level, changes=changes)
    return level


@transaction.atomic
def update_level(*, by: User, level: Level, **values: Any) -> dict[str, list[Any]]:
    """Change a level's lead sentence or its rule (which level, how many months, the wording)."""
    return update_fields(by=by, obj=level, values=values)


@transaction.atomic
def update_indicators(*, by: User, level: Level, items: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Make the level's current indicators `items`, in order.

    Each item: {"id": an existing indicator's pk or None, "text": str, "retire": bool}. A changed
    text retires the old row and adds a new one; retired rows are kept, never deleted.
    """
    if level.is_sustained_rule:
        raise ValidationError("This level is a sustained-level rule: it has no indicators.")
    current = {i.pk: i for i in level.indicators.current().select_for_update()}
    unknown = [item["id"] for item in items if item["id"] is not None and item["id"] not in current]
    if unknown:
        raise ValidationError("Some indicators changed since this page was loaded. Reload the page and try again.")
    kept = [item for item in items if not item["retire"] and normalise_text(item["text"])]
    if not kept:
        raise ValidationError("A level needs at least one indicator. Retire the level instead.")
    now = timezone.now()
    before = [i.text for i in sorted(current.values(), key=lambda i: i.position)]
    Indicator.objects.filter(pk__in=current).update(position=F("position") + _PARKING)
    for item in items:
        if item["id"] is not None and (item["retire"] or not normalise_text(item["text"])):
            Indicator.objects.filter(pk=item["id"]).update(retired_at=now)
    for position, item in enumerate(kept, start=1):
        text = normalise_text(item["text"])
        old = current.get(item["id"])
        if old is not None and old.text == text:
            Indicator.objects.filter(pk=old.pk).update(position=position)
        else:
            if old is not None:
                Indicator.objects.filter(pk=old.pk).update(retired_at=now)
            Indicator.objects.create(level=level, position=position, text=text, replaces=old)
    after = [normalise_text(item["text"]) for item in kept]
    if after != before:
        record(actor=by, action="edit indicators", obj=level, changes={"indicators": [before, after]})
    return {"before": before, "after": after}


def _next_position(level: Level) -> int:
    return (level.indicators.current().aggregate(Max("position"))["position__max"] or 0) + 1


def _add_indicators(level: Level, texts: Sequence[str], *, start: int) -> None:
    Indicator.objects.bulk_create(Indicator(level=level, position=start + i, text=text) for i, text in enumerate(texts))
