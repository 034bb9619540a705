"""The framework in fixtures/ is the one ladder framework-ladder.md reads from the five documents."""

import json

import pytest
from django.conf import settings

from competencies.models import Competency, Indicator, Level
from tests.ladder import LEVELS_DEFINED, SUSTAINED_RULES

pytestmark = pytest.mark.django_db


def test_it_holds_the_eleven_competencies_in_the_documents_order():
    assert list(Competency.objects.values_list("slug", flat=True)) == list(LEVELS_DEFINED)


@pytest.mark.parametrize("slug, levels", LEVELS_DEFINED.items())
def test_each_competency_defines_exactly_the_levels_of_the_ladder(slug, levels):
    competency = Competency.objects.get(slug=slug)
    assert competency.defined_level_numbers() == levels


@pytest.mark.parametrize("slug, number", sorted(SUSTAINED_RULES))
def test_sustained_level_rules_are_rules_not_indicators(slug, number):
    level = Level.objects.get(competency__slug=slug, number=number)
    assert level.is_sustained_rule
    assert (level.sustained_level, level.sustained_months) == (4, 12)
    assert level.rule_text == "Competency at Level 4 maintained for at least 1 year as recorded in annual appraisal"
    assert not level.indicators.exists()


def test_every_other_level_has_indicators_and_no_rule():
    for level in Level.objects.exclude(sustained_level__isnull=False).prefetch_related("indicators"):
        assert (level.competency.slug, level.number) not in SUSTAINED_RULES
        assert level.indicators.all(), f"{level} has no indicators"
    assert Level.objects.filter(sustained_level__isnull=False).count() == len(SUSTAINED_RULES)


def test_recovery_orientated_practice_level_2_is_a_lead_sentence_with_four_sub_points():
    level = Level.objects.get(competency__slug="recovery-orientated-practice", number=2)
    assert level.lead == "Has an understanding of recovery principles and values including:"
    assert [i.text for i in level.indicators.all()] == [
        "Listening to peoples stories in a non judgemental way.",
        "The importance of helping people meet their own needs.",
        "The importance of enabling social inclusion",
        "How approaches and services can help or hinder recovery",
    ]


def test_relevance_to_recovery_belongs_to_every_competency_but_two():
    without = set(Competency.objects.filter(relevance_to_recovery="").values_list("slug", flat=True))
    assert without == {"recovery-orientated-practice", "releasing-potential"}


def test_customer_care_says_who_counts_as_a_customer():
    note = Competency.objects.get(slug="customer-care").note
    assert note.startswith("Customers include: service users, carers, members of the public")


def test_customer_care_uses_the_newer_four_level_wording():
    texts = {
        level.number: [i.text for i in level.indicators.all()]
        for level in Level.objects.filter(competency__slug="customer-care").prefetch_related("indicators")
    }
    # Level 1 exists only in the 2024 document; level 3's newer sentences only in 2024 and 2025.
    assert (
        texts[1][0]
        == "Understands explicit service user needs and supports service users to develop skills to meet their needs."
    )
    assert "Develops feedback and evaluation systems that improve services." in texts[3]
    assert all(len(sentences) == 4 for sentences in texts.values())


def test_partnership_and_teamwork_level_4_keeps_the_2025_sentence():
    level = Level.objects.get(competency__slug="partnership-and-teamwork", number=4)
    assert [i.text for i in level.indicators.all()][-1] == "Respected and trusted by everyone they work with"


def test_indicator_texts_are_clean_of_extraction_artefacts():
    for text in Indicator.objects.values_list("text", flat=True):
        assert text == text.strip() and "  " not in text and "\n" not in text
        assert not any(mark in text for mark in ("<", ">", "▪", "\uf0b7", "•")), text


def test_the_fixture_file_and_the_database_agree_sentence_for_sentence():
    data = json.loads((settings.FIXTURES_DIR / "framework.json").read_text())
    for entry in data["competencies"]:
        for level_data in entry["levels"]:
            stored = Indicator.objects.filter(level__competency__slug=entry["slug"], level__number=level_data["number"])
            assert list(stored.values_list("text", flat=True)) == level_data.get("indicators", [])
