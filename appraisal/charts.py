"""Charts drawn on the server as inline SVG: no chart library, no JavaScript, and the same markup
on the page and in WeasyPrint's PDFs.

`level_chart` computes the geometry (coordinates as strings) and `LevelChart.svg` writes the SVG,
in Python rather than a template: a history has a chart per competency, and the template engine
took half the time of rendering the page. Presentation attributes rather than CSS classes, so that
WeasyPrint draws it exactly as the browser does. Every mark that colour tells apart also
differs in shape or carries words (filled circles for the manager's level, hollow diamonds for the
self-assessment, a ring for a level reached by a sustained-level rule, band names beside the
band), so a chart reads in greyscale and on paper.
"""

import datetime
from dataclasses import dataclass, field
from itertools import pairwise

from django.utils.html import format_html
from django.utils.safestring import SafeString

from competencies.models import HIGHEST_LEVEL, LOWEST_LEVEL
from competencies.windows import WINDOW_NAMES

WIDTH, HEIGHT = 680, 252
LEFT, RIGHT, TOP, BOTTOM = 62, 102, 34, 56
INNER = 36  # space between the plot's edges and the first and last records
BAND_NAMES = WINDOW_NAMES
BAND_FILLS = ("#fff3cd", "#d1e7dd", "#cfe2ff")
CHAR_WIDTH = 7.0  # average width of a character of the 12px labels, to shorten role names that do not fit


def _n(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


@dataclass
class Mark:
    x: str
    y: str
    label: str
    by_rule: bool = False
    title: str = ""


@dataclass
class LevelChart:
    title: str
    description: str
    width: int = WIDTH
    height: int = HEIGHT
    plot_left: str = _n(LEFT)
    plot_right: str = _n(WIDTH - RIGHT)
    plot_width: str = _n(WIDTH - RIGHT - LEFT)
    plot_top: str = _n(TOP)
    plot_bottom: str = _n(HEIGHT - BOTTOM)
    band_label_x: str = _n(WIDTH - RIGHT + 8)
    gridlines: list[dict] = field(default_factory=list)
    bands: list[dict] = field(default_factory=list)
    ticks: list[dict] = field(default_factory=list)
    role_changes: list[dict] = field(default_factory=list)
    role_spans: list[dict] = field(default_factory=list)
    line: str = ""
    marks: list[Mark] = field(default_factory=list)
    self_line: str = ""
    self_marks: list[Mark] = field(default_factory=list)
    note: str = ""

    def svg(self, chart_id: str) -> SafeString:
        """The chart as inline SVG, named by its title and description (`chart_id` makes their ids).
        Every value, text or number, goes in through `format_html`, which escapes it."""
        left, right, top, bottom, label_x = (
            self.plot_left,
            self.plot_right,
            self.plot_top,
            self.plot_bottom,
            self.band_label_x,
        )
        out: list[str] = [  # format_html's safe strings, and the closing tag
            format_html(
                '<svg class="level-chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
                'aria-labelledby="{id}-title {id}-desc" xmlns="http://www.w3.org/2000/svg" '
                'font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">',
                width=self.width,
                height=self.height,
                id=chart_id,
            ),
            format_html('<title id="{}-title">{}</title>', chart_id, self.title),
            format_html('<desc id="{}-desc">{}</desc>', chart_id, self.description),
        ]
        for band in self.bands:
            out.append(
                format_html(
                    '<rect x="{left}" y="{y}" width="{width}" height="{height}"'
                    ' fill="{fill}" stroke="#ffffff" stroke-width="1.5"/>'
                    '<text x="{label_x}" y="{label_y}" fill="#212529">{label} ({level})</text>',
                    left=left,
                    label_x=label_x,
                    width=self.plot_width,
                    **band,
                )
            )
        if self.note:
            out.append(
                format_html(
                    '<text x="{label_x}" y="{top}" dy="12" fill="#495057" font-style="italic">Not in your</text>'
                    '<text x="{label_x}" y="{top}" dy="26" fill="#495057" font-style="italic">current role</text>',
                    label_x=label_x,
                    top=top,
                )
            )
        for line in self.gridlines:
            out.append(
                format_html(
                    '<line x1="{left}" x2="{right}" y1="{y}" y2="{y}"'
                    ' stroke="#adb5bd" stroke-width="0.75" stroke-dasharray="2 3"/>'
                    '<text x="{left}" dx="-6" y="{y}" dy="4" text-anchor="end" fill="#212529">{label}</text>',
                    left=left,
                    right=right,
                    **line,
                )
            )
        out.append(
            format_html(
                '<line x1="{left}" x2="{right}" y1="{bottom}" y2="{bottom}" stroke="#495057" stroke-width="1"/>',
                left=left,
                right=right,
                bottom=bottom,
            )
        )
        for tick in self.ticks:
            out.append(
                format_html(
                    '<text x="{x}" y="{bottom}" dy="15" text-anchor="middle" fill="#212529">{label}</text>',
                    bottom=bottom,
                    **tick,
                )
            )
        for span in self.role_spans:
            out.append(
                format_html(
                    '<text x="{x}" y="{bottom}" dy="34" text-anchor="middle"'
                    ' fill="#495057" font-style="italic"><title>{title}</title>{label}</text>',
                    bottom=bottom,
                    **span,
                )
            )
        for change in self.role_changes:
            out.append(
                format_html(
                    '<line x1="{x}" x2="{x}" y1="{top}" y2="{bottom}"'
                    ' stroke="#212529" stroke-width="1.5" stroke-dasharray="5 3"><title>{title}</title></line>'
                    '<text x="{x}" y="{top}" dy="-8" text-anchor="middle"'
                    ' fill="#212529" font-weight="bold">{label}</text>',
                    top=top,
                    bottom=bottom,
                    **change,
                )
            )
        if self.self_line:
            out.append(
                format_html(
                    '<path d="{}" fill="none" stroke="#8a4b08" stroke-width="1.5" stroke-dasharray="4 3"/>',
                    self.self_line,
                )
            )
        for mark in self.self_marks:
            out.append(
                format_html(
                    '<path d="M{x},{y} m0,-6 l6,6 l-6,6 l-6,-6 z"'
                    ' fill="#ffffff" stroke="#8a4b08" stroke-width="2"><title>{title}</title></path>',
                    x=mark.x,
                    y=mark.y,
                    title=mark.title,
                )
            )
        out.append(format_html('<path d="{}" fill="none" stroke="#1d4f60" stroke-width="2.5"/>', self.line))
        for mark in self.marks:
            if mark.by_rule:
                out.append(
                    format_html(
                        '<circle cx="{}" cy="{}" r="9.5" fill="none" stroke="#1d4f60" stroke-width="2"/>',
                        mark.x,
                        mark.y,
                    )
                )
            out.append(
                format_html(
                    '<circle cx="{x}" cy="{y}" r="5.5" fill="#1d4f60"><title>{title}</title></circle>'
                    '<text x="{x}" y="{y}" dx="-8" dy="-9" text-anchor="end"'
                    ' fill="#0b2a35" font-weight="bold">{label}</text>',
                    x=mark.x,
                    y=mark.y,
                    title=mark.title,
                    label=mark.label,
                )
            )
        out.append("</svg>")
        return SafeString("\n".join(out))  # lines from format_html, and the closing tag


def level_chart(*, points, entry_level: int | None, role_changes, title: str) -> LevelChart | None:
    """The chart of one competency's achieved levels (`points`, oldest first, from
    `appraisal.history`), with the current role's window from `entry_level` as a band and the
    role changes (`RoleChange`s) marked on the time axis. None when there is nothing to draw."""
    scored = [p for p in points if p.level is not None]
    if not scored:
        return None
    lowest = min(
        [LOWEST_LEVEL] + [p.level for p in scored] + [p.self_level for p in scored if p.self_level is not None]
    )
    rows = HIGHEST_LEVEL - lowest + 1
    step = (HEIGHT - BOTTOM - TOP) / rows

    def y(level: int) -> float:
        return HEIGHT - BOTTOM - (level - lowest + 0.5) * step

    first, last = scored[0].period_end, scored[-1].period_end
    changes = [c for c in role_changes if c.since > first]
    end = max([last] + [c.since for c in changes])
    span = (end - first).days

    def x(day: datetime.date) -> float:
        if span == 0:
            return (LEFT + WIDTH - RIGHT) / 2
        return LEFT + INNER + (day - first).days / span * (WIDTH - RIGHT - LEFT - 2 * INNER)

    chart = LevelChart(
        title=f"{title}: achieved level in each completed appraisal",
        description=_description(title, scored, entry_level),
    )
    for level in range(lowest, HIGHEST_LEVEL + 1):
        chart.gridlines.append({"y": _n(y(level)), "label": f"Level {level}" if level >= LOWEST_LEVEL else "Below 1"})
    if entry_level is not None:
        for offset, (name, fill) in enumerate(zip(BAND_NAMES, BAND_FILLS, strict=True)):
            level = entry_level + offset
            chart.bands.append(
                {
                    "y": _n(y(level) - step / 2),
                    "height": _n(step),
                    "fill": fill,
                    "label": name,
                    "label_y": _n(y(level) + 4),
                    "level": level,
                }
            )
    else:
        chart.note = "Not in the current role"
    for point in scored:
        chart.ticks.append({"x": _n(x(point.period_end)), "label": point.year_label})
    chart.line = " ".join(
        f"{'M' if i == 0 else 'L'}{_n(x(p.period_end))},{_n(y(p.level))}" for i, p in enumerate(scored)
    )
    chart.marks = [
        Mark(
            _n(x(p.period_end)),
            _n(y(p.level)),
            str(p.level) if p.level >= LOWEST_LEVEL else "–",
            by_rule=p.by_rule,
            title=f"{p.cycle_name}: {p.level_label}" + (" (sustained-level rule)" if p.by_rule else ""),
        )
        for p in scored
    ]
    assessed = [p for p in scored if p.self_level is not None]
    offset = 9  # beside the manager's mark, so that both show when they are equal
    chart.self_line = " ".join(
        f"{'M' if i == 0 else 'L'}{_n(x(p.period_end) + offset)},{_n(y(p.self_level))}" for i, p in enumerate(assessed)
    )
    chart.self_marks = [
        Mark(
            _n(x(p.period_end) + offset),
            _n(y(p.self_level)),
            str(p.self_level),
            title=f"{p.cycle_name}: self-assessed {p.self_label}",
        )
        for p in assessed
    ]
    boundaries = [first] + [c.since for c in changes] + [end]
    titles = [scored[0].role_title] + [c.title for c in changes]
    for change in changes:
        chart.role_changes.append(
            {
                "x": _n(x(change.since)),
                "label": f"Role change {change.since:%b %Y}",
                "title": f"{change.since:%-d %B %Y}: {change.title}",
            }
        )
    for (start, stop), role in zip(pairwise(boundaries), titles, strict=True):
        left = LEFT if start == first else x(start)
        right = WIDTH - RIGHT if stop == end else x(stop)
        room = max(int((right - left - 8) / CHAR_WIDTH), 4)
        chart.role_spans.append(
            {
                "x": _n((left + right) / 2),
                "label": role if len(role) <= room else role[: room - 1].rstrip() + "…",
                "title": role,
            }
        )
    return chart


def _description(title: str, scored, entry_level: int | None) -> str:
    levels = "; ".join(
        f"{p.year_label}: level {p.level}" + (" by the sustained-level rule" if p.by_rule else "") for p in scored
    )
    window = (
        f" The current role's window is {entry_level} (Entry) to {entry_level + 2} (Exceptional)."
        if entry_level is not None
        else " The current role does not require this competency."
    )
    return f"{title}. {levels}.{window}"
