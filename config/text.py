import csv


def normalise_text(value):
    """Text as stored: one kind of line ending (browsers send CRLF from textareas), no outer whitespace."""
    if not isinstance(value, str):
        return value
    return value.replace("\r\n", "\n").replace("\r", "\n").strip()


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
