"""A long job (core/jobs.py): work that takes longer than a request, run by a worker, whose progress
the person who started it can watch."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class Job(models.Model):
    class State(models.TextChoices):
        QUEUED = "queued", "Waiting for a worker"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    UNFINISHED = (State.QUEUED, State.RUNNING)

    kind = models.CharField(max_length=50)  # for the logs: "open cycle", "import staff", "cycle zip"
    # What only one unfinished job at a time may work on ("cycle 12", "staff"): a second is refused.
    key = models.CharField(max_length=100)
    func = models.CharField(max_length=200)  # the dotted path of the function that does the work
    title = models.CharField(max_length=300)  # in words, for the page: "Opening Annual appraisal 2026"
    url = models.CharField(max_length=300, blank=True)  # where to go afterwards (the cycle's page)
    params = models.JSONField(default=dict, blank=True)  # the work's input; removed when it finishes
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    step = models.CharField(max_length=200, blank=True)  # what it is doing now, in words
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)  # what it did: {"summary": [...], "problems": [...]}
    error = models.TextField(blank=True)  # why it failed, for the person who started it
    file = models.FileField(upload_to="jobs/", blank=True, max_length=300)  # what it made, kept until expires_at
    expires_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)  # runs started (a worker that died is one)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["key"], condition=Q(state__in=["queued", "running"]), name="one_unfinished_job_per_key"
            )
        ]

    def __str__(self):
        return self.title

    @property
    def is_finished(self) -> bool:
        return self.state in (self.State.DONE, self.State.FAILED)

    @property
    def percent(self) -> int | None:
        if not self.total:
            return None
        return min(100, self.done * 100 // self.total)
