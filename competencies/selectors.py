from django.db.models import Prefetch

from competencies.models import Competency, Indicator, Level


def framework_competencies():
    """Every competency with its levels and their current indicators, in framework order (three queries)."""
    return Competency.objects.prefetch_related(
        Prefetch(
            "levels",
            queryset=Level.objects.order_by("number").prefetch_related(
                Prefetch("indicators", queryset=Indicator.objects.current())
            ),
        )
    )
