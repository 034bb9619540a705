"""The pure rules of appraisal.rules: the achieved level, a level held for a year, calendar months.

No database: each test builds a window of levels, a set of ratings and a history of records.
"""

import datetime

import pytest

from appraisal.rules import (
    CONSISTENTLY,
    MAX_GAP_MONTHS,
    NOT_YET,
    PARTLY,
    Record,
    WindowLevel,
    add_months,
    derive_level,
    held_since,
    sustained_rule_met,
)

D = datetime.date

# A role's window of levels 1-3: Entry (1), Desired (2), Exceptional (3), two indicators each.
ENTRY, DESIRED, EXCEPTIONAL = (1, 2), (3, 4), (5, 6)
WINDOW_1_3 = (
    WindowLevel(1, indicator_ids=ENTRY),
    WindowLevel(2, indicator_ids=DESIRED),
    WindowLevel(3, indicator_ids=EXCEPTIONAL),
)

# A role's window of levels 3-5 whose top is a sustained-level rule: "Level 4 maintained for 1 year".
LEVEL_3, LEVEL_4 = (31, 32), (41, 42)
WINDOW_3_5 = (
    WindowLevel(3, indicator_ids=LEVEL_3),
    WindowLevel(4, indicator_ids=LEVEL_4),
    WindowLevel(5, sustained_level=4, sustained_months=12),
)
LEVEL_4_MET = {31: CONSISTENTLY, 32: CONSISTENTLY, 41: CONSISTENTLY, 42: CONSISTENTLY}
ONLY_LEVEL_3_MET = {31: CONSISTENTLY, 32: CONSISTENTLY, 41: CONSISTENTLY, 42: PARTLY}

THIS_YEAR = D(2026, 3, 31)
LAST_YEAR = D(2025, 3, 31)
TWO_YEARS_AGO = D(2024, 3, 31)


def rate(ids, mark):
    return {indicator_id: mark for indicator_id in ids}


def derive_1_3(ratings):
    return derive_level(WINDOW_1_3, ratings, period_end=THIS_YEAR)


def derive_3_5(ratings, history=(), period_end=THIS_YEAR):
    return derive_level(WINDOW_3_5, ratings, period_end=period_end, history=history)


# --- The achieved level: walking up the window ---------------------------------------------------


def test_all_indicators_consistently_demonstrated_at_all_three_levels_give_the_exceptional_level():
    assert derive_1_3(rate(ENTRY + DESIRED + EXCEPTIONAL, CONSISTENTLY)) == 3


def test_entry_all_consistently_and_one_partly_at_desired_give_the_entry_level():
    ratings = rate(ENTRY, CONSISTENTLY) | {3: CONSISTENTLY, 4: PARTLY}
    assert derive_1_3(ratings) == 1


def test_entry_and_desired_consistently_and_one_not_yet_at_exceptional_give_the_desired_level():
    ratings = rate(ENTRY + DESIRED, CONSISTENTLY) | {5: NOT_YET, 6: CONSISTENTLY}
    assert derive_1_3(ratings) == 2


@pytest.mark.parametrize(
    "entry_level, expected",
    [(1, 0), (2, 1), (3, 2)],
    ids=["entry 1 gives 0", "entry 2 gives 1", "entry 3 gives 2"],
)
def test_a_not_yet_at_entry_gives_below_entry_written_entry_minus_one(entry_level, expected):
    window = (
        WindowLevel(entry_level, indicator_ids=(1, 2)),
        WindowLevel(entry_level + 1, indicator_ids=(3, 4)),
    )
    ratings = {1: CONSISTENTLY, 2: NOT_YET} | rate((3, 4), CONSISTENTLY)
    assert derive_level(window, ratings, period_end=THIS_YEAR) == expected


def test_a_partly_at_entry_also_gives_below_entry():
    assert derive_1_3({1: PARTLY, 2: CONSISTENTLY}) == 0


@pytest.mark.parametrize(
    "ratings",
    [{}, rate(ENTRY + DESIRED + EXCEPTIONAL, "")],
    ids=["missing", "blank"],
)
def test_nothing_rated_is_not_yet_scored(ratings):
    assert derive_1_3(ratings) is None


def test_entry_partly_unrated_and_otherwise_consistently_is_not_yet_scored():
    assert derive_1_3({1: CONSISTENTLY}) is None


def test_entry_all_consistently_and_desired_all_unrated_is_not_yet_scored():
    assert derive_1_3(rate(ENTRY, CONSISTENTLY)) is None


def test_desired_partly_unrated_but_with_one_not_yet_gives_the_entry_level():
    ratings = rate(ENTRY, CONSISTENTLY) | {3: NOT_YET}  # indicator 4 unrated
    assert derive_1_3(ratings) == 1


def test_a_higher_level_all_consistently_does_not_count_when_a_lower_level_is_not_met():
    ratings = rate(ENTRY, CONSISTENTLY) | rate(DESIRED, PARTLY) | rate(EXCEPTIONAL, CONSISTENTLY)
    assert derive_1_3(ratings) == 1


def test_ratings_of_indicators_outside_the_window_are_ignored():
    ratings = rate(ENTRY, CONSISTENTLY) | {3: PARTLY, 4: CONSISTENTLY, 99: NOT_YET}
    assert derive_1_3(ratings) == 1


def test_a_level_with_no_indicators_stops_the_walk():
    window = (
        WindowLevel(1, indicator_ids=ENTRY),
        WindowLevel(2, indicator_ids=()),
        WindowLevel(3, indicator_ids=EXCEPTIONAL),
    )
    ratings = rate(ENTRY + EXCEPTIONAL, CONSISTENTLY)
    assert derive_level(window, ratings, period_end=THIS_YEAR) == 1


def test_an_empty_window_is_not_yet_scored():
    assert derive_level((), rate(ENTRY, CONSISTENTLY), period_end=THIS_YEAR) is None


# --- The achieved level: a sustained-level rule at the top of a 3-5 window -----------------------


def test_the_sustained_rule_is_reached_when_levels_3_and_4_are_met_and_level_4_was_held_for_a_year():
    assert derive_3_5(LEVEL_4_MET, history=[Record(LAST_YEAR, 4)]) == 5


def test_the_sustained_rule_is_not_reached_when_this_appraisal_only_derives_level_3_even_with_history():
    history = [Record(TWO_YEARS_AGO, 4), Record(LAST_YEAR, 4)]
    assert derive_3_5(ONLY_LEVEL_3_MET, history=history) == 3


def test_the_sustained_rule_is_not_reached_when_level_4_is_not_yet_scored_even_with_history():
    ratings = rate(LEVEL_3, CONSISTENTLY)  # level 4 unrated
    assert derive_3_5(ratings, history=[Record(LAST_YEAR, 4)]) is None


# --- A level held for a year: edge cases, through derive_level ----------------------------------


def test_in_the_first_year_with_no_history_level_4_is_the_most_that_can_be_reached():
    assert derive_3_5(LEVEL_4_MET, history=[]) == 4
    assert held_since(4, THIS_YEAR, []) == THIS_YEAR
    assert not sustained_rule_met(4, 12, THIS_YEAR, [])


def test_exactly_one_year_at_level_4_is_enough():
    history = [Record(LAST_YEAR, 4)]
    assert add_months(LAST_YEAR, 12) == THIS_YEAR
    assert held_since(4, THIS_YEAR, history) == LAST_YEAR
    assert sustained_rule_met(4, 12, THIS_YEAR, history)
    assert derive_3_5(LEVEL_4_MET, history=history) == 5


def test_just_short_of_a_year_at_level_4_is_not_enough():
    history = [Record(D(2025, 4, 30), 4)]
    assert held_since(4, THIS_YEAR, history) == D(2025, 4, 30)
    assert not sustained_rule_met(4, 12, THIS_YEAR, history)
    assert derive_3_5(LEVEL_4_MET, history=history) == 4


def test_a_missed_year_breaks_the_run():
    history = [Record(TWO_YEARS_AGO, 4)]  # nothing recorded in 2025
    assert add_months(TWO_YEARS_AGO, MAX_GAP_MONTHS) < THIS_YEAR
    assert held_since(4, THIS_YEAR, history) == THIS_YEAR
    assert not sustained_rule_met(4, 12, THIS_YEAR, history)
    assert derive_3_5(LEVEL_4_MET, history=history) == 4


def test_a_drop_below_the_level_last_year_breaks_the_run():
    history = [Record(TWO_YEARS_AGO, 4), Record(LAST_YEAR, 3)]
    assert held_since(4, THIS_YEAR, history) == THIS_YEAR
    assert not sustained_rule_met(4, 12, THIS_YEAR, history)
    assert derive_3_5(LEVEL_4_MET, history=history) == 4


def test_two_years_at_level_4_run_back_to_the_earlier_record():
    history = [Record(TWO_YEARS_AGO, 4), Record(LAST_YEAR, 4)]
    assert held_since(4, THIS_YEAR, history) == TWO_YEARS_AGO
    assert sustained_rule_met(4, 12, THIS_YEAR, history)
    assert derive_3_5(LEVEL_4_MET, history=history) == 5


def test_the_history_may_come_in_any_order():
    history = [Record(LAST_YEAR, 4), Record(D(2023, 3, 31), 4), Record(TWO_YEARS_AGO, 4)]
    assert held_since(4, THIS_YEAR, history) == D(2023, 3, 31)


def test_a_drop_further_back_only_ends_the_run_there():
    history = [Record(D(2023, 3, 31), 3), Record(TWO_YEARS_AGO, 4), Record(LAST_YEAR, 4)]
    assert held_since(4, THIS_YEAR, history) == TWO_YEARS_AGO


def test_a_previous_record_at_level_5_counts_as_level_4_or_above():
    history = [Record(LAST_YEAR, 5)]
    assert held_since(4, THIS_YEAR, history) == LAST_YEAR
    assert sustained_rule_met(4, 12, THIS_YEAR, history)
    assert derive_3_5(LEVEL_4_MET, history=history) == 5


def test_a_change_of_role_between_the_years_does_not_break_the_run_because_levels_are_absolute():
    # Last year's appraisal was for another role, whose window put this competency at level 4.
    history = [Record(LAST_YEAR, 4)]
    assert derive_3_5(LEVEL_4_MET, history=history) == 5


def test_a_record_that_does_not_include_the_competency_breaks_the_run():
    history = [Record(TWO_YEARS_AGO, 4), Record(LAST_YEAR, None)]
    assert held_since(4, THIS_YEAR, history) == THIS_YEAR
    assert not sustained_rule_met(4, 12, THIS_YEAR, history)
    assert derive_3_5(LEVEL_4_MET, history=history) == 4


@pytest.mark.parametrize(
    "period_end",
    [THIS_YEAR, D(2026, 4, 1), D(2027, 3, 31)],
    ids=["same period end", "a day later", "a year later"],
)
def test_a_record_on_or_after_this_appraisals_period_end_is_ignored(period_end):
    assert held_since(4, THIS_YEAR, [Record(period_end, 4)]) == THIS_YEAR
    assert derive_3_5(LEVEL_4_MET, history=[Record(period_end, 4)]) == 4
    # Nor does one at a lower level break an otherwise good run.
    history = [Record(LAST_YEAR, 4), Record(period_end, 2)]
    assert held_since(4, THIS_YEAR, history) == LAST_YEAR
    assert derive_3_5(LEVEL_4_MET, history=history) == 5


@pytest.mark.parametrize(
    "previous, months_apart, continuous",
    [
        (D(2025, 1, 31), 14, True),
        (D(2024, 12, 31), 15, True),
        (D(2024, 11, 30), 16, False),
    ],
    ids=["14 months", "15 months", "16 months"],
)
def test_a_cycle_that_slipped_by_up_to_max_gap_months_is_still_continuous(previous, months_apart, continuous):
    # Month ends, so calendar months apart is the difference of the month numbers.
    assert (THIS_YEAR.year - previous.year) * 12 + THIS_YEAR.month - previous.month == months_apart
    assert MAX_GAP_MONTHS == 15
    history = [Record(previous, 4)]
    assert held_since(4, THIS_YEAR, history) == (previous if continuous else THIS_YEAR)
    assert sustained_rule_met(4, 12, THIS_YEAR, history) is continuous
    assert derive_3_5(LEVEL_4_MET, history=history) == (5 if continuous else 4)


def test_a_gap_between_two_earlier_records_also_breaks_the_run():
    history = [Record(D(2023, 3, 31), 4), Record(D(2024, 11, 30), 4), Record(D(2025, 11, 30), 4)]
    # 2023-03-31 to 2024-11-30 is 20 months: the run reaches back only to 2024-11-30.
    assert held_since(4, THIS_YEAR, history) == D(2024, 11, 30)


def test_a_longer_rule_needs_a_longer_run():
    history = [Record(LAST_YEAR, 4)]
    assert not sustained_rule_met(4, 24, THIS_YEAR, history)
    assert sustained_rule_met(4, 24, THIS_YEAR, [Record(TWO_YEARS_AGO, 4), Record(LAST_YEAR, 4)])


# --- Calendar months ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "day, months, expected",
    [
        (D(2024, 1, 31), 1, D(2024, 2, 29)),
        (D(2023, 1, 31), 1, D(2023, 2, 28)),
        (D(2025, 3, 31), 12, D(2026, 3, 31)),
        (D(2024, 2, 29), 12, D(2025, 2, 28)),
        (D(2024, 11, 30), 15, D(2026, 2, 28)),
        (D(2025, 12, 15), 1, D(2026, 1, 15)),
    ],
    ids=[
        "31 Jan + 1 in a leap year",
        "31 Jan + 1 in a common year",
        "31 Mar + 12",
        "29 Feb + 12",
        "30 Nov + 15 across two years",
        "mid-month across a year end",
    ],
)
def test_add_months_adds_calendar_months_clamping_to_the_months_last_day(day, months, expected):
    assert add_months(day, months) == expected
