"""Load the competency framework from `fixtures/framework.json` (format: fixtures/README.md)."""

import json
from pathlib import Path

from django.db import transaction

from competencies.models import Competency, Indicator, Level


class FixtureError(ValueError):
    """A fixture file does not have the shape fixtures/README.md describes."""


def read_json(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise FixtureError(f"{path}: not valid JSON ({error}).") from error


@transaction.atomic
def load_framework(path: Path) -> list[str]:
    """Create the competencies the file holds that the database does not have yet.

    Competencies already present (matched by slug) are left as they are, so loading is idempotent
    and never overwrites what HR admins have since edited. Returns the names of those created.
    """
    data = read_json(path)
    created = []
    for position, entry in enumerate(data.get("competencies", []), start=1):
        try:
            slug, name, levels = entry["slug"], entry["name"], entry["levels"]
        except KeyError as error:
            raise FixtureError(f"{path}: competency #{position} lacks {error}.") from error
        if Competency.objects.filter(slug=slug).exists():
            continue
        competency = Competency(
            slug=slug,
            name=name,
            position=position,
            relevance_to_recovery=entry.get("relevance_to_recovery", ""),
            note=entry.get("note", ""),
            sources=entry.get("sources", ""),
        )
        competency.full_clean()
        competency.save()
        for level_data in levels:
            _create_level(path, competency, level_data)
        created.append(name)
    return created


def _create_level(path: Path, competency: Competency, data: dict) -> None:
    sustained = data.get("sustained")
    indicators = data.get("indicators", [])
    if bool(sustained) == bool(indicators):
        raise FixtureError(
            f"{path}: {competency.name} level {data.get('number')} needs either indicators or a sustained rule."
        )
    level = Level(
        competency=competency,
        number=data["number"],
        lead=data.get("lead", ""),
        sustained_level=sustained["level"] if sustained else None,
        sustained_months=sustained["months"] if sustained else None,
        rule_text=data.get("text", "") if sustained else "",
    )
    level.full_clean()
    level.save()
    Indicator.objects.bulk_create(
        Indicator(level=level, position=position, text=text) for position, text in enumerate(indicators, start=1)
    )
