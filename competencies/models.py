"""The competency framework: one absolute ladder of levels 1–5 per competency.

A competency defines only the levels some role uses. A level is either an ordered list of
behavioural indicators or a sustained-level rule ("Competency at Level 4 maintained for at least
1 year as recorded in annual appraisal"), which is evaluated from appraisal history, not rated.
"""

from typing import Self, TypeVar

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from competencies.windows import WINDOW_SIZE

_M = TypeVar("_M", bound=models.Model)

LOWEST_LEVEL = 1
HIGHEST_LEVEL = 5


class CurrentQuerySet(models.QuerySet[_M]):
    def current(self) -> Self:
        """Those not retired."""
        return self.filter(retired_at__isnull=True)


class Competency(models.Model):
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=120, unique=True)
    position = models.PositiveSmallIntegerField(help_text="Order in the framework.")
    relevance_to_recovery = models.TextField(
        blank=True, help_text='The competency\'s "Relevance to Recovery" statement, if it has one.'
    )
    note = models.TextField(
        blank=True, help_text="Any note printed with the competency, such as who counts as a customer."
    )
    sources = models.TextField(
        blank=True, help_text="Which source documents print which levels, and whose wording was kept."
    )
    retired_at = models.DateTimeField(
        null=True, blank=True, help_text="A retired competency can no longer be required by a role."
    )

    objects = CurrentQuerySet.as_manager()

    class Meta:
        ordering = ["position"]
        verbose_name_plural = "competencies"

    def __str__(self):
        return self.name

    def defined_level_numbers(self) -> list[int]:
        """The level numbers this competency defines, retired levels aside (uses prefetched levels)."""
        return sorted(level.number for level in self.levels.all() if level.retired_at is None)

    def valid_entry_levels(self) -> list[int]:
        """Entry levels whose three-level window covers only levels this competency defines."""
        defined = set(self.defined_level_numbers())
        return [
            entry
            for entry in range(LOWEST_LEVEL, HIGHEST_LEVEL - WINDOW_SIZE + 2)
            if all(entry + step in defined for step in range(WINDOW_SIZE))
        ]


class Level(models.Model):
    competency = models.ForeignKey(Competency, on_delete=models.CASCADE, related_name="levels")
    number = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(LOWEST_LEVEL), MaxValueValidator(HIGHEST_LEVEL)]
    )
    lead = models.TextField(blank=True, help_text="A sentence that introduces the indicators, if the level has one.")
    # A sustained-level rule: achieved when `sustained_level` has been held for `sustained_months`,
    # as recorded in annual appraisals. Both are empty for a level of indicators.
    sustained_level = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(LOWEST_LEVEL), MaxValueValidator(HIGHEST_LEVEL)]
    )
    sustained_months = models.PositiveSmallIntegerField(null=True, blank=True, validators=[MinValueValidator(1)])
    rule_text = models.TextField(blank=True, help_text="The rule as the documents word it.")
    retired_at = models.DateTimeField(
        null=True, blank=True, help_text="A retired level is no longer part of any new window."
    )

    objects = CurrentQuerySet.as_manager()

    class Meta:
        ordering = ["competency__position", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["competency", "number"],
                name="level_unique_per_competency",
                violation_error_message="This competency already defines that level.",
            ),
            models.CheckConstraint(
                condition=models.Q(number__gte=LOWEST_LEVEL, number__lte=HIGHEST_LEVEL),
                name="level_number_1_to_5",
                violation_error_message="A level is a number from 1 to 5.",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(sustained_level__isnull=True, sustained_months__isnull=True)
                    | models.Q(
                        sustained_level__isnull=False,
                        sustained_months__isnull=False,
                        sustained_level__lt=models.F("number"),
                    )
                ),
                name="level_sustained_rule_complete",
                violation_error_message="A sustained-level rule needs a lower level to sustain and a number of months.",
            ),
        ]

    def __str__(self):
        return f"{self.competency.name}, level {self.number}"

    @property
    def is_sustained_rule(self) -> bool:
        return self.sustained_level is not None


class Indicator(models.Model):
    """One behavioural indicator. Its text never changes once saved: an edit retires this row and
    adds a new one, so whatever refers to this row (an appraisal's rating) keeps its words."""

    level = models.ForeignKey(Level, on_delete=models.PROTECT, related_name="indicators")
    position = models.PositiveSmallIntegerField()
    text = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    retired_at = models.DateTimeField(null=True, blank=True)
    replaces = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="replaced_by",
        help_text="The row this one rewords.",
    )

    objects = CurrentQuerySet.as_manager()

    class Meta:
        ordering = ["level", "position", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["level", "position"],
                condition=models.Q(retired_at__isnull=True),
                name="indicator_position_unique_per_level",
            ),
        ]

    def __str__(self):
        return self.text
