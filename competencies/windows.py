"""A role's window in one competency: three consecutive levels of the ladder, named from the lowest
Entry, Desired and Exceptional. Role profiles, their forms, appraisal records and reports name a
window's levels through these functions.
"""

WINDOW_SIZE = 3
WINDOW_NAMES = ("Entry", "Desired", "Exceptional")


def window_levels(entry_level: int) -> list[tuple[str, int]]:
    """The window that starts at `entry_level` as (name, level): [("Entry", 2), ("Desired", 3), ("Exceptional", 4)]."""
    return list(zip(WINDOW_NAMES, range(entry_level, entry_level + WINDOW_SIZE), strict=True))


def window_name(level: int, entry_level: int) -> str | None:
    """What `level` is in the window from `entry_level`: "Entry", "Desired" or "Exceptional"; None outside it."""
    offset = level - entry_level
    return WINDOW_NAMES[offset] if 0 <= offset < WINDOW_SIZE else None


def window_label(entry_level: int) -> str:
    """The window's levels as a range: "2–4"."""
    return f"{entry_level}–{entry_level + WINDOW_SIZE - 1}"


def window_description(entry_level: int) -> str:
    """The window with each level named: "2–4 (Entry 2, Desired 3, Exceptional 4)"."""
    return f"{window_label(entry_level)} ({', '.join(f'{name} {level}' for name, level in window_levels(entry_level))})"
