import csv
import unicodedata
from typing import TypeVar, overload

T = TypeVar("T")

# Characters that show nothing: controls, formatting characters (zero-width spaces and joiners, the
# byte-order mark, bidirectional controls), separators, and the fillers some scripts use as blanks.
_INVISIBLE_CATEGORIES = {"Cc", "Cf", "Zs", "Zl", "Zp"}
_FILLERS = {"\u115f", "\u1160", "\u3164", "\uffa0", "\u2800"}
# Characters that change the direction text is shown in: a name holding one can read as another.
BIDI_CONTROLS = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _invisible(character: str) -> bool:
    return unicodedata.category(character) in _INVISIBLE_CATEGORIES or character in _FILLERS


def _shows(character: str) -> bool:
    """A letter, digit, punctuation mark or symbol: something a reader sees on its own. Marks that
    combine with another character (accents, variation selectors), unassigned and private-use code
    points are not, alone."""
    return unicodedata.category(character)[0] in "LNPS" and character not in _FILLERS


@overload
def normalise_text(value: str) -> str: ...


@overload
def normalise_text(value: T) -> T: ...


def normalise_text(value: object) -> object:
    """Text as stored: one kind of line ending (browsers send CRLF from textareas), nothing invisible
    around it (whitespace, zero-width or formatting characters), and empty if nothing in it shows,
    so that a required field refuses text that shows nothing."""
    if not isinstance(value, str):
        return value
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    start, end = 0, len(value)
    while start < end and _invisible(value[start]):
        start += 1
    while end > start and _invisible(value[end - 1]):
        end -= 1
    value = value[start:end]
    return value if any(map(_shows, value)) else ""


BIDI_MESSAGE = (
    "A name cannot hold characters that change the direction of text (right-to-left or left-to-right controls)."
)


def counted(number: int, singular: str, plural: str = "") -> str:
    """ "1 indicator", "34 indicators", "3 competencies" (`plural`: when it is not `singular` + "s")."""
    return f"{number} {singular if number == 1 else plural or singular + 's'}"


def has_bidi_control(value: str) -> bool:
    return any(character in BIDI_CONTROLS for character in value)


def name_problem(value: str) -> str | None:
    """Why `value`, as typed, cannot be a person's name, or None: it may not hold characters that
    change the direction it is shown in (anywhere, even where storing it would trim them), and it
    must show letters."""
    if has_bidi_control(value):
        return BIDI_MESSAGE
    if not any(unicodedata.category(character).startswith("L") and _shows(character) for character in value):
        return "A name must contain letters."
    return None


# A spreadsheet runs a cell that starts with one of these as a formula (=HYPERLINK(...), +cmd|...).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class SpreadsheetSafeWriter:
    """csv.writer for downloads opened in a spreadsheet: text that would start a formula gets a
    leading apostrophe, which spreadsheets show as plain text. Numbers are written as they are."""

    def __init__(self, file):
        self._writer = csv.writer(file)

    def writerow(self, row):
        return self._writer.writerow([spreadsheet_cell(value) for value in row])

    def writerows(self, rows):
        for row in rows:
            self.writerow(row)


def spreadsheet_cell(value):
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
