"""Annual appraisals: cycles, each person's appraisal, its scores and its history of steps."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Coalesce
from django.utils import timezone

from appraisal.rules import STANDING_LABELS, STANDINGS_IN_ORDER, Standing, final_level
from competencies import windows
from core.dates import cycle_date_problems


class AppraisalCycle(models.Model):
    """An annual appraisal round ("Annual appraisal 2026"). Opening it creates everyone's appraisal."""

    name = models.CharField(
        max_length=120, unique=True, error_messages={"unique": "A cycle with this name already exists."}
    )
    period_start = models.DateField(help_text="First day of the year under review.")
    period_end = models.DateField(help_text="Last day of the year under review: the date the records speak to.")
    due_on = models.DateField("due date", help_text="When appraisals should be completed.")
    self_assessment = models.BooleanField(
        "staff self-assess first",
        default=True,
        help_text="Staff rate themselves against the indicators before their manager does.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    opened_at = models.DateTimeField(null=True, blank=True)
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-period_end", "name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(period_end__gt=models.F("period_start")),
                name="cycle_period_ends_after_it_starts",
                violation_error_message="The period must end after it starts.",
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def is_open(self) -> bool:
        return self.opened_at is not None

    @property
    def period_label(self) -> str:
        return f"{self.period_start:%-d %B %Y} to {self.period_end:%-d %B %Y}"

    def clean(self):
        super().clean()
        if self.period_start and self.period_end and self.period_end <= self.period_start:
            raise ValidationError({"period_end": "The period must end after it starts."})
        if self.period_start and self.due_on and self.due_on < self.period_start:
            raise ValidationError({"due_on": "The due date cannot be before the period starts."})
        problems = cycle_date_problems(self.period_start, self.period_end, self.due_on)
        if problems:
            raise ValidationError(problems)


class AppraisalQuerySet(models.QuerySet):
    def completed(self):
        return self.filter(state=Appraisal.State.COMPLETED)


class VisibleAppraisalManager(models.Manager["Appraisal"]):
    """Appraisals that exist for everyone: not those a cycle's opening is still preparing (`staged_for`)."""

    def get_queryset(self) -> AppraisalQuerySet:
        return AppraisalQuerySet(self.model, using=self._db).filter(staged_for__isnull=True)

    def completed(self) -> AppraisalQuerySet:
        return self.get_queryset().completed()


class Appraisal(models.Model):
    """One person's appraisal in one cycle, against the role profile version they held when it opened."""

    class State(models.TextChoices):
        SELF_ASSESSMENT = "self_assessment", "Self-assessment"
        MANAGER_REVIEW = "manager_review", "Manager review"
        AWAITING_SIGN_OFF = "awaiting_sign_off", "Shared, awaiting sign-off"
        AWAITING_COUNTERSIGN = "awaiting_countersign", "Awaiting countersignature"
        REFERRED = "referred", "Referred after disagreement"
        COMPLETED = "completed", "Completed"

    # Who must act next in each state: the person appraised or the appraiser (nobody once completed).
    ACTED_ON_BY: dict[str, str] = {
        State.SELF_ASSESSMENT: "staff_member",
        State.MANAGER_REVIEW: "appraiser",
        State.AWAITING_SIGN_OFF: "staff_member",
        State.AWAITING_COUNTERSIGN: "appraiser",
        State.REFERRED: "referred_to",  # empty when referred to HR: any HR admin over the person decides
    }
    # States in which the staff member may read the manager's scores.
    SHARED_STATES = (State.AWAITING_SIGN_OFF, State.AWAITING_COUNTERSIGN, State.REFERRED, State.COMPLETED)

    cycle = models.ForeignKey(AppraisalCycle, on_delete=models.PROTECT, related_name="appraisals")
    staff_member = models.ForeignKey("staff.StaffMember", on_delete=models.PROTECT, related_name="appraisals")
    appraiser = models.ForeignKey("staff.StaffMember", on_delete=models.PROTECT, related_name="appraisals_to_conduct")
    role_version = models.ForeignKey("roles.RoleProfileVersion", on_delete=models.PROTECT, related_name="appraisals")
    state = models.CharField(max_length=24, choices=State.choices, db_index=True)
    # Bumped by every save: a save made from an older revision is refused, not silently applied.
    revision = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    self_assessment_comments = models.TextField("your comments on the year", blank=True)
    meeting_date = models.DateField(null=True, blank=True)
    objectives = models.TextField("objectives for the next year", blank=True)
    development_plan = models.TextField(blank=True)
    manager_comments = models.TextField("overall comments", blank=True)
    shared_at = models.DateTimeField(null=True, blank=True)
    staff_comments = models.TextField("comments", blank=True)
    staff_agrees = models.BooleanField(
        null=True, blank=True, help_text="Empty until signed off; False records disagreement."
    )
    signed_off_at = models.DateTimeField(null=True, blank=True)
    signed_off_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    countersign_comments = models.TextField("countersignature comments", blank=True)
    countersigned_at = models.DateTimeField(null=True, blank=True)
    countersigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    completed_at = models.DateTimeField(null=True, blank=True)
    # A disagreement the appraiser referred on rather than countersigning (`workflow.refer`): to the line
    # manager's manager (`referred_to`) or, with `referred_to` empty, to HR; and the decision on it.
    referred_at = models.DateTimeField(null=True, blank=True)
    referred_to = models.ForeignKey(
        "staff.StaffMember", null=True, blank=True, on_delete=models.PROTECT, related_name="referrals_to_decide"
    )
    referral_note = models.TextField("why it is referred", blank=True)
    referral_decision = models.TextField("decision on the referral", blank=True)
    referral_decided_at = models.DateTimeField(null=True, blank=True)
    referral_decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Set while the job opening its cycle prepares it, in batches (appraisal.services.cycles): such an
    # appraisal is invisible (`objects` leaves it out) until the opening's last transaction clears
    # this for all of them at once, or removed with the job's other work if the opening fails.
    staged_for = models.ForeignKey("core.Job", null=True, blank=True, on_delete=models.CASCADE, related_name="+")

    objects = VisibleAppraisalManager()
    # Every appraisal, those being prepared too: only for the opening itself.
    with_staged = AppraisalQuerySet.as_manager()

    class Meta:
        ordering = ["-cycle__period_end", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["cycle", "staff_member"],
                name="one_appraisal_per_person_per_cycle",
                violation_error_message="This person already has an appraisal in this cycle.",
            ),
        ]
        indexes = [
            models.Index(fields=["staff_member", "state"], name="appraisal_person_state"),
            # The cycle's disagreements (`appraisal.disagreements`, on HR's report and cycle page): a few
            # records found among the cycle's thousands.
            models.Index(fields=["cycle"], condition=models.Q(staff_agrees=False), name="appraisal_disagreed"),
        ]

    def __str__(self):
        return f"{self.staff_member} – {self.cycle}"

    @property
    def is_completed(self) -> bool:
        return self.state == self.State.COMPLETED

    @property
    def is_shared(self) -> bool:
        return self.state in self.SHARED_STATES

    @property
    def next_actor(self):
        """The StaffMember who must act next, or None once the record is completed."""
        attribute = self.ACTED_ON_BY.get(self.state)
        return getattr(self, attribute) if attribute else None

    @property
    def is_overdue(self) -> bool:
        return not self.is_completed and self.cycle.due_on < timezone.localdate()


def with_standing(queryset: models.QuerySet) -> models.QuerySet:
    """Annotate scored competencies (`queryset`; a migration's too) with `achieved` (`rules.final_level`:
    the override, else the derived level) and `standing` (`rules.standing` against the window the
    appraisal recorded), computed in the database. tests/test_levels_in_sql.py checks that both agree
    with the rules for every level."""
    entry = models.F("entry_level")
    return queryset.annotate(achieved=Coalesce("override_level", "derived_level")).annotate(
        standing=models.Case(
            models.When(achieved__isnull=True, then=models.Value(Standing.NOT_SCORED.value)),
            models.When(achieved__lt=entry, then=models.Value(Standing.BELOW_ENTRY.value)),
            models.When(achieved=entry, then=models.Value(Standing.ENTRY.value)),
            models.When(achieved=entry + 1, then=models.Value(Standing.DESIRED.value)),
            models.When(achieved=entry + 2, then=models.Value(Standing.EXCEPTIONAL.value)),
            default=models.Value(Standing.ABOVE.value),
            output_field=models.CharField(),
        )
    )


class ScoredCompetencyQuerySet(models.QuerySet):
    def with_standing(self):
        """`with_standing` (above) on this queryset."""
        return with_standing(self)


class ScoredCompetency(models.Model):
    """A competency of the role's window as it stood when the appraisal opened, with its result.

    The name, window and level wording are copied here, and `levels` lists the indicator ids of
    each level of the window, so that later edits to the framework never change the record.
    """

    appraisal = models.ForeignKey(Appraisal, on_delete=models.CASCADE, related_name="competencies")
    competency = models.ForeignKey("competencies.Competency", on_delete=models.PROTECT, related_name="+")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=120)
    entry_level = models.PositiveSmallIntegerField()
    # [{"number", "lead", "rule_text", "sustained_level", "sustained_months", "indicators": [id, ...]}, ...]
    levels = models.JSONField()
    # Derived by appraisal.rules.derive_level: a level of the window, entry_level - 1 for "below
    # entry", or empty while the ratings do not yet decide it.
    derived_level = models.PositiveSmallIntegerField(null=True, blank=True)
    self_level = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Derived from the self-assessment.")
    override_level = models.PositiveSmallIntegerField(null=True, blank=True)
    override_reason = models.TextField(blank=True)

    objects = ScoredCompetencyQuerySet.as_manager()

    class Meta:
        ordering = ["appraisal", "position"]
        verbose_name_plural = "scored competencies"
        constraints = [
            models.UniqueConstraint(fields=["appraisal", "competency"], name="scored_competency_unique_per_appraisal"),
        ]

    def __str__(self):
        return f"{self.name} ({self.window_label})"

    @property
    def desired_level(self) -> int:
        return self.entry_level + 1

    @property
    def exceptional_level(self) -> int:
        return self.entry_level + windows.WINDOW_SIZE - 1

    @property
    def window_label(self) -> str:
        return windows.window_label(self.entry_level)

    @property
    def achieved_level(self) -> int | None:
        """The final level (`rules.final_level`): the override when there is one, else the derived level."""
        return final_level(self.override_level, self.derived_level)

    def level_label(self, number: int | None) -> str:
        """How a level of this window reads: "3 (Desired)", "Below entry", "Not yet scored"."""
        if number is None:
            return "Not yet scored"
        if number < self.entry_level:
            return "Below entry"
        return f"{number} ({windows.window_name(number, self.entry_level) or 'outside the window'})"


# A competency's rating rows as a caller read them with it (`appraisal.selectors.appraisal_sheet`), so
# that a save of the same form does not read them again; the revision check makes sure they are current.
_LOADED_RATINGS = "_loaded_ratings"


def keep_ratings(competency: "ScoredCompetency", rows: "list[IndicatorRating]") -> None:
    setattr(competency, _LOADED_RATINGS, rows)


def loaded_ratings(competency: "ScoredCompetency") -> "list[IndicatorRating] | None":
    """The rows kept by `keep_ratings`, or None if none were."""
    return getattr(competency, _LOADED_RATINGS, None)


class IndicatorRating(models.Model):
    """The manager's rating of one indicator (and the staff member's own, when they self-assess)."""

    class Rating(models.TextChoices):
        NOT_YET = "not_yet", "Not yet"
        PARTLY = "partly", "Partly"
        CONSISTENTLY = "consistently", "Consistently demonstrated"

    scored_competency = models.ForeignKey(ScoredCompetency, on_delete=models.CASCADE, related_name="ratings")
    indicator = models.ForeignKey("competencies.Indicator", on_delete=models.PROTECT, related_name="+")
    rating = models.CharField(max_length=12, choices=Rating.choices, blank=True)
    evidence = models.TextField(blank=True)
    self_rating = models.CharField(max_length=12, choices=Rating.choices, blank=True)
    self_evidence = models.TextField(blank=True)

    class Meta:
        ordering = ["scored_competency", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["scored_competency", "indicator"], name="rating_unique_per_indicator"),
        ]

    def __str__(self):
        return f"{self.indicator_id}: {self.get_rating_display() or 'not rated'}"


RATING_LABELS = dict(IndicatorRating.Rating.choices)


class MeasureReview(models.Model):
    """The manager's comment on one performance measure of the role profile version."""

    appraisal = models.ForeignKey(Appraisal, on_delete=models.CASCADE, related_name="measure_reviews")
    measure = models.ForeignKey("roles.PerformanceMeasure", on_delete=models.PROTECT, related_name="+")
    comment = models.TextField(blank=True)

    class Meta:
        ordering = ["appraisal", "measure__position"]
        constraints = [
            models.UniqueConstraint(fields=["appraisal", "measure"], name="measure_review_unique_per_appraisal")
        ]

    def __str__(self):
        return f"{self.measure_id}: {self.comment[:40]}"


class AppraisalEvent(models.Model):
    """One step of an appraisal's workflow: who moved it from which state to which, when, and why."""

    appraisal = models.ForeignKey(Appraisal, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=40)
    from_state = models.CharField(max_length=24, blank=True)
    to_state = models.CharField(max_length=24)
    comment = models.TextField(blank=True)

    class Meta:
        ordering = ["appraisal", "at", "pk"]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.action}"

    @property
    def to_state_label(self) -> str:
        return Appraisal.State(self.to_state).label


class KeptInput(models.Model):
    """What someone typed into a long form that could not be saved (their session had expired, or the
    page was stale), kept for them to check and save again (appraisal/drafts.py).

    Only for the person the form was shown to, one per form, and only for a few days.
    """

    class Reason(models.TextChoices):
        SIGNED_OUT = "signed out", "The session had expired"
        STALE_TOKEN = "stale token", "The page had expired"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    path = models.CharField(max_length=200, help_text="The form's address.")
    data = models.JSONField(help_text="{field: [values]} as the form sent them, without the CSRF token.")
    reason = models.CharField(max_length=20, choices=Reason.choices)
    kept_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "path"], name="one_kept_input_per_form")]

    def __str__(self):
        return f"{self.path} for user {self.user_id}"


class AppraiserHandover(models.Model):
    """An open appraisal that goes to another appraiser on a given day: the day after its appraiser's
    last day of employment, recorded when HR marked them as leaving (appraisal/leavers.py)."""

    appraisal = models.ForeignKey(Appraisal, on_delete=models.CASCADE, related_name="handovers")
    leaver = models.ForeignKey("staff.StaffMember", on_delete=models.PROTECT, related_name="+")
    successor = models.ForeignKey("staff.StaffMember", on_delete=models.PROTECT, related_name="+")
    on = models.DateField(help_text="The day the successor takes over.")
    recorded_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["applied_at", "on"], name="handover_due")]

    def __str__(self):
        return f"{self.appraisal} to {self.successor} on {self.on}"


class RecordPDF(models.Model):
    """A completed record's PDF, made once (appraisal.record_pdfs) and kept in the default storage.

    It belongs to one revision of the record: reopening gives the record a new revision, so the kept
    file no longer matches, and is removed; completing it again makes a new one.
    """

    appraisal = models.OneToOneField(Appraisal, on_delete=models.CASCADE, related_name="record_pdf")
    revision = models.PositiveIntegerField()
    file = models.FileField(upload_to="records/", max_length=200)
    made_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"PDF of appraisal {self.appraisal_id}, revision {self.revision}"


class Reminder(models.Model):
    """A reminder sent to whoever must act on an appraisal: at most one per person, step and day (the
    database refuses a second), however the reminders are started (appraisal.reminders)."""

    class Kind(models.TextChoices):
        BEFORE_DUE = "before_due", "Before the due date"
        OVERDUE = "overdue", "Overdue"
        BY_HR = "by_hr", "Sent by HR"

    appraisal = models.ForeignKey(Appraisal, on_delete=models.CASCADE, related_name="reminders")
    recipient = models.ForeignKey("staff.StaffMember", on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=30, choices=Appraisal.State.choices, help_text="The step it chased.")
    sent_on = models.DateField()
    kind = models.CharField(max_length=12, choices=Kind.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["appraisal", "recipient", "state", "sent_on"], name="one_reminder_per_step_per_day"
            )
        ]

    def __str__(self):
        return f"Reminder about appraisal {self.appraisal_id} on {self.sent_on}"


# --- the organisation report's tallies (`appraisal.tallies`) ---------------------------------------
# Kept in the same transaction as every change that moves them, so that the report reads a few
# hundred rows however many appraisals there are. `service_key` is the person's current service's id,
# 0 for none (a unique constraint treats no two NULLs as equal).

# `StandingTally.service_key` of the rows counting every service together, beside each service's own: the
# report without a service filter reads these, as few whatever the number of services.
EVERY_SERVICE = 2_147_483_647  # the largest PositiveIntegerField: never a service's id


class ProgressTally(models.Model):
    """How many of a cycle's appraisals are in a state, by the person's service, the role profile of the
    version they were opened against and their appraiser."""

    cycle = models.ForeignKey(AppraisalCycle, on_delete=models.CASCADE, related_name="+")
    service_key = models.PositiveIntegerField()
    role_profile = models.ForeignKey("roles.RoleProfile", on_delete=models.CASCADE, related_name="+")
    appraiser = models.ForeignKey("staff.StaffMember", on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=24, choices=Appraisal.State.choices)
    count = models.IntegerField()
    # The appraiser's place in a list by name (`staff.models.name_order`), kept as their name changes: the
    # report reads a page of appraisers in this order through the index below, however many there are.
    appraiser_order = models.TextField(default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["cycle", "service_key", "role_profile", "appraiser", "state"], name="progress_tally_key"
            )
        ]
        indexes = [models.Index(fields=["cycle", "appraiser_order", "appraiser"], name="progress_tally_by_name")]

    def __str__(self):
        return f"{self.count} in {self.state} (cycle {self.cycle_id}, appraiser {self.appraiser_id})"


class StandingTally(models.Model):
    """How many competencies of a cycle's completed appraisals stand where against the window, by the
    person's service (and for every service together, `EVERY_SERVICE`), the role profile and the
    competency (not scored is not counted)."""

    cycle = models.ForeignKey(AppraisalCycle, on_delete=models.CASCADE, related_name="+")
    service_key = models.PositiveIntegerField()
    role_profile = models.ForeignKey("roles.RoleProfile", on_delete=models.CASCADE, related_name="+")
    competency = models.ForeignKey("competencies.Competency", on_delete=models.CASCADE, related_name="+")
    standing = models.CharField(
        max_length=16, choices=[(standing.value, STANDING_LABELS[standing]) for standing in STANDINGS_IN_ORDER]
    )
    count = models.IntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["cycle", "service_key", "role_profile", "competency", "standing"], name="standing_tally_key"
            )
        ]

    def __str__(self):
        return f"{self.count} at {self.standing} (cycle {self.cycle_id}, competency {self.competency_id})"


class DevelopmentNeed(models.Model):
    """A competency of a completed appraisal achieved below the window's Entry level, found by its cycle
    and kept in the report's order: the person's name (`staff.models.name_order`, kept as it changes),
    the record, the competency's place in it."""

    cycle = models.ForeignKey(AppraisalCycle, on_delete=models.CASCADE, related_name="+")
    scored_competency = models.OneToOneField(ScoredCompetency, on_delete=models.CASCADE, related_name="+")
    appraisal = models.ForeignKey(Appraisal, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField()  # the scored competency's
    person_order = models.TextField()

    class Meta:
        indexes = [
            models.Index(fields=["cycle", "person_order", "appraisal", "position"], name="development_need_order")
        ]

    def __str__(self):
        return f"Below entry: scored competency {self.scored_competency_id}"


class ListedDisagreement(models.Model):
    """A record whose person disagreed at sign-off, in the order HR's lists show them (`appraisal.disagreements`):
    waiting ones first (`stage`), then by the person's name (`staff.models.name_order`, kept as it changes).
    Kept with the report's tallies (`appraisal.tallies`), so that a page of them is read through the index
    below rather than sorted from every disagreement's names."""

    class Stage(models.IntegerChoices):
        REFERRED = 0
        AWAITING_COUNTERSIGN = 1
        OTHER = 2  # completed, or back before sign-off (no longer listed then: its agreement is cleared)

    appraisal = models.OneToOneField(Appraisal, primary_key=True, on_delete=models.CASCADE, related_name="+")
    cycle = models.ForeignKey(AppraisalCycle, on_delete=models.CASCADE, related_name="+")
    stage = models.PositiveSmallIntegerField(choices=Stage.choices)
    person_order = models.TextField()

    class Meta:
        indexes = [
            models.Index(fields=["cycle", "stage", "person_order", "appraisal"], name="listed_disagreement_order")
        ]

    def __str__(self):
        return f"Disagreement: appraisal {self.appraisal_id}"
