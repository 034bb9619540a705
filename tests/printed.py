"""What a PDF page draws, read from its content stream: text (where, how large, in which font and
colour), stroked lines (where, how wide, in which colour) and the colours of filled shapes.

Positions are in points from the page's top-left corner, as a printed page is measured. Enough of
PDF's graphics state is followed for WeasyPrint's output (q/Q, cm, colours, line width, paths);
form XObjects are not entered.
"""

import io
import itertools
import math
from dataclasses import dataclass, field
from typing import Any

from pypdf import PdfReader
from pypdf.generic import ContentStream

MM = 72 / 25.4  # points in a millimetre


@dataclass(frozen=True)
class Text:
    x: float
    baseline: float
    size: float
    text: str

    @property
    def top(self) -> float:
        """The top of the line's em box, near enough to where the text's box starts."""
        return self.baseline - self.size


@dataclass(frozen=True)
class Line:
    x0: float
    y0: float
    x1: float
    y1: float
    width: float
    colour: tuple[int, ...]


@dataclass
class Page:
    number: int
    width: float
    height: float
    fonts: dict[str, bool]  # base font name: embedded?
    texts: list[Text] = field(default_factory=list)
    text_colours: list[tuple[int, ...]] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    fill_colours: list[tuple[int, ...]] = field(default_factory=list)


def _times(m, n):
    a, b, c, d, e, f = m
    p, q, r, s, t, u = n
    return (a * p + b * r, a * q + b * s, c * p + d * r, c * q + d * s, e * p + f * r + t, e * q + f * s + u)


def _scale(m) -> float:
    return math.sqrt(abs(m[0] * m[3] - m[1] * m[2]))


def _rgb(operands) -> tuple[int, ...]:
    return tuple(round(float(value) * 255) for value in operands)


def _fonts(page) -> dict[str, bool]:
    fonts = {}
    for font in (page["/Resources"].get("/Font") or {}).values():
        font = font.get_object()
        described = font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font else font
        descriptor = described.get("/FontDescriptor")
        descriptor = descriptor.get_object() if descriptor is not None else {}
        fonts[str(font["/BaseFont"])] = any(key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3"))
    return fonts


def read_page(page, number: int) -> Page:
    width, height = float(page.mediabox.width), float(page.mediabox.height)
    read = Page(number, width, height, _fonts(page))

    def text(string, cm, tm, font, size):
        if string.strip():
            matrix = _times(tm, cm)
            read.texts.append(Text(matrix[4], height - matrix[5], size * _scale(matrix), string.strip()))

    page.extract_text(visitor_text=text)

    state: dict[str, Any] = {"ctm": (1, 0, 0, 1, 0, 0), "stroke": (0, 0, 0), "fill": (0, 0, 0), "width": 1.0}
    saved, path = [], []

    def point(x, y):
        a, b, c, d, e, f = state["ctm"]
        return a * x + c * y + e, height - (b * x + d * y + f)

    for operands, code in ContentStream(page.get_contents(), page.pdf).operations:
        operator = code.decode()
        if operator == "q":
            saved.append(dict(state))
        elif operator == "Q":
            state = saved.pop()
        elif operator == "cm":
            state["ctm"] = _times(tuple(float(value) for value in operands), state["ctm"])
        elif operator == "RG":
            state["stroke"] = _rgb(operands)
        elif operator == "rg":
            state["fill"] = _rgb(operands)
        elif operator == "w":
            state["width"] = float(operands[0])
        elif operator == "m":
            path.append([point(*map(float, operands))])
        elif operator == "l":
            path[-1].append(point(*map(float, operands)))
        elif operator == "re":
            path.append([])
        elif operator in ("S", "s"):
            width = state["width"] * _scale(state["ctm"])
            for points in path:
                for (x0, y0), (x1, y1) in itertools.pairwise(points):
                    read.lines.append(Line(x0, y0, x1, y1, width, state["stroke"]))
            path = []
        elif operator in ("f", "F", "f*", "B", "B*", "b", "b*"):
            read.fill_colours.append(state["fill"])
            path = []
        elif operator == "n":
            path = []
        elif operator in ("Tj", "TJ", "'", '"'):
            read.text_colours.append(state["fill"])
    return read


def read_pdf(pdf: bytes) -> list[Page]:
    assert pdf.startswith(b"%PDF-")
    return [read_page(page, number) for number, page in enumerate(PdfReader(io.BytesIO(pdf)).pages, start=1)]
