"""A window's names and levels (`competencies.windows`), as role profiles, forms and records show them."""

import pytest

from competencies.windows import WINDOW_NAMES, window_description, window_label, window_levels, window_name


def test_a_window_is_three_named_levels_from_its_entry_level():
    assert window_levels(2) == [("Entry", 2), ("Desired", 3), ("Exceptional", 4)]
    assert [name for name, _ in window_levels(1)] == list(WINDOW_NAMES)


@pytest.mark.parametrize(
    "level, name", [(0, None), (1, None), (2, "Entry"), (3, "Desired"), (4, "Exceptional"), (5, None)]
)
def test_each_level_of_the_window_has_its_name_and_none_outside_it(level, name):
    assert window_name(level, 2) == name


def test_a_window_reads_as_a_range_and_with_its_names():
    assert window_label(3) == "3–5"
    assert window_description(1) == "1–3 (Entry 1, Desired 2, Exceptional 3)"
