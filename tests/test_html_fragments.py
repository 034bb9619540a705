"""The HTML fragments built in Python rather than in templates, for speed: the scoring page's
indicator fieldsets, the team grid's cells and the history's level charts. Markup fed through any
value one of them takes (`<script>`, quotes, `&`) comes back escaped, as text: it adds no element
or attribute to the fragment, and reads back exactly as it was given."""

import copy
import dataclasses
import datetime
from html.parser import HTMLParser
from types import SimpleNamespace

import pytest
from django.urls import reverse

from appraisal import team
from appraisal.charts import level_chart
from appraisal.forms import indicator_fieldset
from appraisal.history import Point, RoleChange
from appraisal.models import Appraisal
from appraisal.team import Cell, Member
from tests.appraisals import complete, open_appraisal

MARKUP = """<script>alert("x")</script><b>bold</b> & 'single' "double" &amp;"""
ESCAPED = (
    "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt; "
    "&amp; &#x27;single&#x27; &quot;double&quot; &amp;amp;"
)


class Outline(HTMLParser):
    """A fragment's elements in order (each tag with its attributes' names), and every text and
    attribute value in it, with character references decoded."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, ...]] = []  # ("p", ("class",)) for <p class="...">, ("/p",) for </p>
        self.values: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, tuple(name for name, _ in attrs)))
        self.values += [value for _, value in attrs if value is not None]

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        self.tags.append(("/" + tag,))

    def handle_endtag(self, tag):
        self.tags.append(("/" + tag,))

    def handle_data(self, data):
        self.values.append(data)


def assert_shown_as_text(html: str, plain: str):
    """`html` (built with MARKUP in one value) has the elements and attributes of `plain` (the same
    fragment built with ordinary values), and MARKUP in it as text, escaped."""
    assert "<script" not in html and "<b>" not in html
    assert ESCAPED in html
    shown = Outline(html)
    assert shown.tags == Outline(plain).tags
    assert any(MARKUP in value for value in shown.values)


# --- the scoring page's indicator fieldsets -----------------------------------------------------

FIELDSET = {
    "pk": 7,
    "text": "Listens to people and acts on what they say",
    "value": "partly",
    "evidence": "Chaired the tenants' meeting",
    "errors": ["Choose a rating", "Evidence is too long"],
    "references": [
        ("reference", "Self-assessment", "Consistently demonstrated", "I led the meeting"),
        ("reference", "Last year", "Partly"),
    ],
}


def fieldset_with(**changes) -> str:
    return indicator_fieldset(**{**copy.deepcopy(FIELDSET), **changes})


def fieldset_variants():
    """(name, the arguments with MARKUP in one value) for every value the fieldset shows."""
    yield "pk", {"pk": MARKUP}
    yield "text", {"text": MARKUP}
    yield "evidence", {"evidence": MARKUP}
    yield "first error", {"errors": [MARKUP, "Evidence is too long"]}
    yield "second error", {"errors": ["Choose a rating", MARKUP]}
    for index, reference in enumerate(FIELDSET["references"]):
        for position, part in enumerate(("css", "lead", "label", "quote")[: len(reference)]):
            changed = list(FIELDSET["references"])
            changed[index] = reference[:position] + (MARKUP,) + reference[position + 1 :]
            yield f"reference {index} {part}", {"references": changed}


@pytest.mark.parametrize(
    "changes", [changes for _, changes in fieldset_variants()], ids=[name for name, _ in fieldset_variants()]
)
def test_an_indicator_fieldset_shows_markup_in_any_value_as_text(changes):
    assert_shown_as_text(fieldset_with(**changes), fieldset_with())


def test_a_reference_line_given_by_the_caller_is_escaped_whole():
    # The reference's CSS class and lead-in went in unescaped once: today's callers pass constants.
    html = fieldset_with(references=[(MARKUP, MARKUP, MARKUP), (MARKUP, MARKUP, MARKUP, MARKUP)])
    assert html.count(ESCAPED) == 7 and "<script" not in html
    assert Outline(html).tags == Outline(fieldset_with()).tags


def test_a_submitted_rating_that_is_no_choice_checks_nothing_and_is_not_shown():
    html = fieldset_with(value=MARKUP)
    assert "checked" not in html and "script" not in html and "bold" not in html
    assert [tag for tag in Outline(html).tags if tag[0] == "input"] == [
        ("input", ("class", "type", "name", "id", "value"))
    ] * 4


def test_a_fieldset_without_errors_or_evidence_escapes_the_same():
    plain = fieldset_with(evidence="", errors=[])
    assert_shown_as_text(fieldset_with(evidence="", errors=[], text=MARKUP), plain)
    assert_shown_as_text(fieldset_with(evidence="", errors=[], pk=MARKUP), plain)


# --- the team grid's cells ----------------------------------------------------------------------


@pytest.fixture
def fresh_grid_cells():
    """The grid's cells are kept once built (a few dozen kinds): build them anew for each test."""
    team._grid_cell.cache_clear()
    yield
    team._grid_cell.cache_clear()


APPRAISED, NOT_APPRAISED, NOT_IN_ROLE = (
    Cell(required=True, entry_level=2, level=3),
    Cell(required=True, entry_level=2),
    Cell(required=False),
)
# What each kind of cell shows: an appraised one its level, standing and their words; one outside
# the role words of its own ("Not in the role"); one not appraised yet nothing it is given.
CELL_VALUES = {
    "appraised words": (APPRAISED, "words"),
    "appraised level": (APPRAISED, "level_text"),
    "appraised standing": (APPRAISED, "standing"),
    "not in the role words": (NOT_IN_ROLE, "words"),
}


@pytest.mark.parametrize("cell, value", CELL_VALUES.values(), ids=CELL_VALUES)
def test_a_grid_cell_shows_markup_in_any_value_as_text(monkeypatch, fresh_grid_cells, cell, value):
    plain = Member(person=None, cells=[cell]).cells_html
    marked = SimpleNamespace(value=MARKUP, label="Desired") if value == "standing" else MARKUP
    monkeypatch.setattr(Cell, value, property(lambda self: marked))
    team._grid_cell.cache_clear()
    assert_shown_as_text(Member(person=None, cells=[cell]).cells_html, plain)


def test_a_cell_not_appraised_yet_says_so():
    assert (
        Member(person=None, cells=[NOT_APPRAISED]).cells_html
        == '<td><span class="standing standing-not_scored">Not appraised</span></td>'
    )


def test_a_level_below_1_reads_less_than_1_escaped(fresh_grid_cells):
    html = Member(
        person=None, cells=[Cell(required=True, entry_level=1, level=0), Cell(required=True, entry_level=1, level=1)]
    ).cells_html
    assert html == (
        '<td><span class="standing standing-below_entry"><span class="standing-level">&lt;1</span> Below '
        "entry</span></td>"
        '<td><span class="standing standing-entry"><span class="standing-level">1</span> Entry</span></td>'
    )


@pytest.mark.django_db
def test_the_team_page_shows_a_level_below_1_as_text(client, hr, manager, staff, fresh_grid_cells):
    # Partnership and Teamwork's window starts at 1 for a Support Worker: nothing demonstrated is below 1.
    complete(
        open_appraisal(hr, staff),
        manager=manager,
        staff=staff,
        per_competency={"Partnership and Teamwork": lambda n: "not_yet"},
    )
    assert (
        Appraisal.objects.get(staff_member__user=staff).competencies.get(name="Partnership and Teamwork").derived_level
        == 0
    )
    client.force_login(manager)
    page = client.get(reverse("team")).content.decode()
    assert (
        '<span class="standing standing-below_entry"><span class="standing-level">&lt;1</span> Below entry</span>'
        in page
    )
    assert "<1<" not in page


# --- the history's level charts -----------------------------------------------------------------


def point(year: int, level: int, self_level: int | None, *, by_rule: bool = False) -> Point:
    return Point(
        appraisal_id=year,
        cycle_name=f"Annual appraisal {year}",
        period_end=datetime.date(year, 3, 31),
        role_title="Support Worker",
        entry_level=2,
        level=level,
        derived_level=level,
        override_level=None,
        self_level=self_level,
        by_rule=by_rule,
    )


def chart():
    return level_chart(
        points=[point(2024, 3, 2), point(2025, 4, None), point(2026, 5, 5, by_rule=True)],
        entry_level=2,
        role_changes=[RoleChange(since=datetime.date(2025, 6, 1), title="Senior Service Coordinator")],
        title="Customer Care",
    )


def chart_variants():
    """(name, the chart and its id with MARKUP in one value) for every value the chart shows."""
    base = chart()
    assert base.bands and base.gridlines and base.ticks and base.role_changes and base.role_spans and base.self_marks
    assert any(mark.by_rule for mark in base.marks)
    yield "chart id", base, MARKUP
    for field in dataclasses.fields(base):
        value = getattr(base, field.name)
        if isinstance(value, (str, int)) and field.name != "note":
            yield field.name, dataclasses.replace(base, **{field.name: MARKUP}), "chart-1"
        elif value and isinstance(value[0], dict):
            for key in value[0]:
                changed = copy.deepcopy(value)
                changed[0][key] = MARKUP
                yield f"{field.name} {key}", dataclasses.replace(base, **{field.name: changed}), "chart-1"
        elif value:
            for name in (
                ("x", "y", "title") if field.name == "self_marks" else ("x", "y", "label", "title")
            ):  # a self-assessed mark has no label
                marks = copy.deepcopy(value)
                marks[-1] = dataclasses.replace(marks[-1], **{name: MARKUP})
                yield f"{field.name} {name}", dataclasses.replace(base, **{field.name: marks}), "chart-1"


@pytest.mark.parametrize(
    "changed, chart_id", [(c, i) for _, c, i in chart_variants()], ids=[name for name, _, _ in chart_variants()]
)
def test_a_level_chart_shows_markup_in_any_value_as_text(changed, chart_id):
    assert_shown_as_text(changed.svg(chart_id), chart().svg("chart-1"))


def test_a_chart_outside_the_current_role_says_so_and_escapes_the_same():
    outside = dataclasses.replace(chart(), bands=[], note="Not in the current role")
    html = outside.svg("chart-1")
    assert "Not in your</text>" in html and "current role</text>" in html
    assert_shown_as_text(dataclasses.replace(outside, title=MARKUP).svg("chart-1"), html)
