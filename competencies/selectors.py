from django.db.models import Prefetch, QuerySet

from competencies.models import Competency, Indicator, Level


def framework_competencies() -> QuerySet[Competency]:
    """Every competency with its levels and their current indicators, in framework order (three queries)."""
    return Competency.objects.prefetch_related(
        Prefetch(
            "levels",
            queryset=Level.objects.order_by("number").prefetch_related(
                Prefetch("indicators", queryset=Indicator.objects.current())
            ),
        )
    )
