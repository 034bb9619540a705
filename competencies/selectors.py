from django.db.models import Prefetch

from competencies.models import Competency, CurrentQuerySet, Indicator, Level


def framework_competencies() -> CurrentQuerySet[Competency]:
    """Every competency with its levels and their current indicators, in framework order (three queries)."""
    indicators = Prefetch("indicators", queryset=Indicator.objects.current())
    levels = Prefetch("levels", queryset=Level.objects.order_by("number").prefetch_related(indicators))
    # django-stubs 5.2 cannot match a Prefetch against the manager of a custom QuerySet (fixed in later releases).
    return Competency.objects.prefetch_related(levels)  # type: ignore[arg-type]
