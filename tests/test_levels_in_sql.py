"""The final level and its standing against the window are computed twice: in Python
(`appraisal.rules.final_level`, `appraisal.rules.standing`: the record page, the history, the team
grid) and in SQL (`ScoredCompetency.objects.with_standing()`: the organisation reports). They must
agree for every level, every window and with or without an override, on SQLite and PostgreSQL."""

import pytest

from appraisal.models import ScoredCompetency
from appraisal.rules import Standing, final_level, standing
from competencies.models import HIGHEST_LEVEL, LOWEST_LEVEL
from tests.appraisals import open_appraisal

# Every level a record can hold: "below entry" of the lowest window (0) up to the top of the ladder.
LEVELS = [None, *range(LOWEST_LEVEL - 1, HIGHEST_LEVEL + 1)]
ENTRY_LEVELS = (1, 2, 3)


def cases():
    """(entry level, override, derived) covering each final level with no override, with an override
    over no derived level, and with an override that differs from the derived level."""
    for entry in ENTRY_LEVELS:
        for level in LEVELS:
            yield entry, None, level
            if level is not None:
                yield entry, level, None
                yield entry, level, HIGHEST_LEVEL if level != HIGHEST_LEVEL else LOWEST_LEVEL


def test_final_level_is_the_override_when_there_is_one_else_the_derived_level():
    assert final_level(None, None) is None
    assert final_level(None, 3) == 3
    assert final_level(2, None) == 2
    assert final_level(2, 4) == 2
    assert final_level(0, 3) == 0  # an override to below entry of a window from 1 is still an override


def test_the_python_standing_names_every_place_against_the_window():
    assert [standing(level, 2) for level in (None, 0, 1, 2, 3, 4, 5)] == [
        Standing.NOT_SCORED,
        Standing.BELOW_ENTRY,
        Standing.BELOW_ENTRY,
        Standing.ENTRY,
        Standing.DESIRED,
        Standing.EXCEPTIONAL,
        Standing.ABOVE,
    ]


@pytest.mark.django_db
def test_the_database_computes_the_same_final_level_and_standing_as_the_rules(hr, staff):
    appraisal = open_appraisal(hr, staff)
    row = ScoredCompetency.objects.filter(appraisal=appraisal).first()
    seen = set()
    for entry, override, derived in cases():
        ScoredCompetency.objects.filter(pk=row.pk).update(
            entry_level=entry, override_level=override, derived_level=derived
        )
        annotated = ScoredCompetency.objects.with_standing().values("achieved", "standing").get(pk=row.pk)
        expected = final_level(override, derived)
        assert annotated["achieved"] == expected, (entry, override, derived)
        assert annotated["standing"] == standing(expected, entry).value, (entry, override, derived)
        seen.add(standing(expected, entry))
    assert seen == set(Standing)  # every standing was reached at least once
