"""Role profiles: job descriptions with their required competency windows (who holds them is in `staff`).

A `RoleProfile` is the lasting identity of a role ("Support Worker (Supported Housing)"); its
content lives in `RoleProfileVersion`s so that an appraisal can keep the exact version it was
scored against while HR revises the role.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from competencies import windows
from competencies.models import HIGHEST_LEVEL, LOWEST_LEVEL, Competency
from competencies.windows import WINDOW_SIZE

CHANGE_NOTE_MAX_LENGTH = 500  # a short note, read in the version history: a sentence or three


def published_versions_prefetch(lookup: str = "versions") -> models.Prefetch:
    """Prefetch a role profile's published versions, newest first, for `RoleProfile.current_version`."""
    published = RoleProfileVersion.objects.filter(status=RoleProfileVersion.Status.PUBLISHED).order_by("-number")
    return models.Prefetch(lookup, queryset=published, to_attr="published_versions")


class RoleProfileQuerySet(models.QuerySet):
    def with_current_version(self):
        """Role profiles that have a published version, ready for `current_version` without more queries."""
        published = self.filter(versions__status=RoleProfileVersion.Status.PUBLISHED).distinct()
        return published.prefetch_related(published_versions_prefetch())


class RoleProfile(models.Model):
    slug = models.SlugField(unique=True, help_text="Used in the role profile's address.")

    objects = RoleProfileQuerySet.as_manager()

    class Meta:
        ordering = ["slug"]

    def __str__(self):
        current = self.current_version
        return current.title if current else self.slug

    @property
    def current_version(self):
        """The newest published version, or None while the role profile is only a draft."""
        if hasattr(self, "published_versions"):
            return self.published_versions[0] if self.published_versions else None
        return self.versions.filter(status=RoleProfileVersion.Status.PUBLISHED).order_by("-number").first()


class RoleProfileVersion(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"

    role_profile = models.ForeignKey(RoleProfile, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    change_note = models.CharField(
        max_length=CHANGE_NOTE_MAX_LENGTH,
        blank=True,
        help_text="What HR noted had changed, on publishing (empty for older versions).",
    )
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    title = models.CharField(max_length=200)
    service = models.CharField(max_length=200, blank=True)
    location = models.CharField(max_length=200, blank=True)
    document_date = models.DateField(
        null=True, blank=True, help_text="The date the role profile carries (month and year)."
    )
    source_document = models.CharField(
        max_length=200, blank=True, help_text="The document this version was taken from."
    )
    introduction = models.TextField(blank=True)
    purpose = models.TextField(blank=True)
    context = models.TextField(blank=True, help_text="Paragraphs separated by a blank line.")
    supervisor = models.CharField("immediate supervisor", max_length=200, blank=True)
    peers = models.CharField("colleagues/peers", max_length=300, blank=True)
    direct_reports = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["role_profile", "number"]
        constraints = [
            models.UniqueConstraint(fields=["role_profile", "number"], name="role_profile_version_number_unique"),
        ]

    def __str__(self):
        return f"{self.title} (version {self.number})"

    @property
    def date_label(self) -> str:
        return self.document_date.strftime("%B %Y") if self.document_date else "Undated"

    def context_paragraphs(self) -> list[str]:
        return [paragraph.strip() for paragraph in self.context.split("\n\n") if paragraph.strip()]

    def purpose_paragraphs(self) -> list[str]:
        return [paragraph.strip() for paragraph in self.purpose.split("\n\n") if paragraph.strip()]

    def person_specification_rows(self) -> list[dict]:
        """The person specification as table rows: category, essential items, desirable items.

        Categories keep the order of their first item; uses prefetched items when present.
        """
        rows: dict[str, dict] = {}
        for item in self.person_specification.all():
            row = rows.setdefault(item.category, {"category": item.category, "essential": [], "desirable": []})
            row["essential" if item.essential else "desirable"].append(item.text)
        return list(rows.values())


class OrderedText(models.Model):
    position = models.PositiveSmallIntegerField()
    text = models.TextField()

    class Meta:
        abstract = True
        ordering = ["position"]

    def __str__(self):
        return self.text


class Accountability(OrderedText):
    version = models.ForeignKey(RoleProfileVersion, on_delete=models.CASCADE, related_name="accountabilities")

    class Meta(OrderedText.Meta):
        verbose_name_plural = "accountabilities"


class PerformanceMeasure(OrderedText):
    version = models.ForeignKey(RoleProfileVersion, on_delete=models.CASCADE, related_name="performance_measures")


class PersonSpecificationItem(OrderedText):
    version = models.ForeignKey(RoleProfileVersion, on_delete=models.CASCADE, related_name="person_specification")
    category = models.CharField(
        max_length=100, help_text="E.g. Qualifications/IT skills, Knowledge, Experience, Values, Other."
    )
    essential = models.BooleanField(help_text="Essential if ticked, desirable otherwise.")


class OrganisationSection(models.Model):
    """A further part of a document's Organisation section, such as a team structure or the values."""

    version = models.ForeignKey(RoleProfileVersion, on_delete=models.CASCADE, related_name="organisation_sections")
    position = models.PositiveSmallIntegerField()
    heading = models.CharField(max_length=200)
    items = models.TextField(blank=True, help_text="One item per line.")
    text = models.TextField(blank=True, help_text="A paragraph after the items.")

    class Meta:
        ordering = ["position"]

    def __str__(self):
        return self.heading

    def item_list(self) -> list[str]:
        return [line.strip() for line in self.items.splitlines() if line.strip()]


class SourceDiscrepancy(OrderedText):
    """Something HR should know about the source document: an inconsistency, an inference made."""

    version = models.ForeignKey(RoleProfileVersion, on_delete=models.CASCADE, related_name="discrepancies")

    class Meta(OrderedText.Meta):
        verbose_name_plural = "source discrepancies"


class RoleRequirement(models.Model):
    """The window of three consecutive levels (Entry, Desired, Exceptional) a role requires in one competency."""

    version = models.ForeignKey(RoleProfileVersion, on_delete=models.CASCADE, related_name="requirements")
    competency = models.ForeignKey(Competency, on_delete=models.PROTECT, related_name="requirements")
    position = models.PositiveSmallIntegerField()
    entry_level = models.PositiveSmallIntegerField()
    printed = models.BooleanField(
        default=True, help_text="Whether the source document prints the level numbers (otherwise they were inferred)."
    )

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(
                fields=["version", "competency"],
                name="requirement_competency_unique_per_version",
                violation_error_message="This role profile already requires that competency.",
            ),
            models.CheckConstraint(
                condition=models.Q(entry_level__gte=LOWEST_LEVEL, entry_level__lte=HIGHEST_LEVEL - WINDOW_SIZE + 1),
                name="requirement_entry_level_1_to_3",
                violation_error_message="The entry level must be 1, 2 or 3 (windows 1–3, 2–4 or 3–5).",
            ),
        ]

    def __str__(self):
        return f"{self.competency.name}: {self.window_label}"

    @property
    def desired_level(self) -> int:
        return self.entry_level + 1

    @property
    def exceptional_level(self) -> int:
        return self.entry_level + WINDOW_SIZE - 1

    @property
    def window(self) -> range:
        return range(self.entry_level, self.entry_level + WINDOW_SIZE)

    @property
    def window_label(self) -> str:
        return windows.window_label(self.entry_level)

    def clean(self) -> None:
        super().clean()
        if self.entry_level is None or self.competency_id is None:
            return
        if not LOWEST_LEVEL <= self.entry_level <= HIGHEST_LEVEL - WINDOW_SIZE + 1:
            raise ValidationError({"entry_level": "The entry level must be 1, 2 or 3 (windows 1–3, 2–4 or 3–5)."})
        defined = self.competency.defined_level_numbers()
        missing = [number for number in self.window if number not in defined]
        if missing:
            valid = ", ".join(windows.window_label(entry) for entry in self.competency.valid_entry_levels())
            raise ValidationError(
                {
                    "entry_level": (
                        f"{self.competency.name} does not define level {', '.join(map(str, missing))}, so the window "
                        f"{self.window_label} is not possible. A window is three consecutive levels the competency "
                        f"defines: {valid or 'none'}."
                    )
                }
            )
