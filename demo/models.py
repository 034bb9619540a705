from django.db import models
from django.utils import timezone


class DemoBuild(models.Model):
    """The day the demo data was built for (one row): `seed_demo` keeps to it until `--reset`."""

    built_for = models.DateField(help_text="The day the demo's dates were built around.")
    built_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "demo build"

    def __str__(self):
        return f"Demo built for {self.built_for:%-d %B %Y}"
