"""HR admins edit the competency framework: competencies, levels, indicators."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from competencies import services
from competencies.forms import CompetencyForm, IndicatorFormSet, LevelForm, NewLevelForm
from competencies.models import Competency, Level
from core.access import hr_admin_required
from core.forms import NO_CHANGES, add_validation_error
from roles import framework


@hr_admin_required
@require_safe
def framework_edit(request):
    levels = Prefetch("levels", queryset=Level.objects.current().order_by("number"))
    # django-stubs 5.2 cannot match a Prefetch against the manager of a custom QuerySet (fixed in later releases).
    competencies = Competency.objects.prefetch_related(levels)  # type: ignore[arg-type]
    return render(request, "competencies/edit/index.html", {"competencies": competencies})


@hr_admin_required
@require_http_methods(["GET", "POST"])
def competency_create(request):
    form = CompetencyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            competency = services.create_competency(by=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_validation_error(form, error)
        else:
            messages.success(request, f"{competency.name} added to the framework. Now add its levels.")
            return redirect("competency_edit", competency.slug)
    return render(request, "competencies/edit/competency_form.html", {"form": form, "competency": None})


@hr_admin_required
@require_http_methods(["GET", "POST"])
def competency_edit(request, slug):
    competency = get_object_or_404(Competency, slug=slug)
    initial = {
        "name": competency.name,
        "relevance_to_recovery": competency.relevance_to_recovery,
        "note": competency.note,
    }
    form = CompetencyForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_competency(by=request.user, competency=competency, **form.cleaned_data)
        except ValidationError as error:
            add_validation_error(form, error)
        else:
            messages.success(request, f"{competency.name} saved." if form.has_changed() else NO_CHANGES)
            return redirect("competency_edit", competency.slug)
    levels = competency.levels.order_by("number")
    ladder = [{"level": level, "uses": framework.usage(competency, level.number)} for level in levels]
    return render(
        request,
        "competencies/edit/competency_form.html",
        {"form": form, "competency": competency, "ladder": ladder, "uses": framework.usage(competency)},
    )


@hr_admin_required
@require_POST
def competency_move(request, slug, direction):
    competency = get_object_or_404(Competency.objects.current(), slug=slug)
    if direction not in ("up", "down"):
        raise Http404
    services.move_competency(by=request.user, competency=competency, step=-1 if direction == "up" else 1)
    return redirect("framework_edit")


@hr_admin_required
@require_POST
def competency_retire(request, slug):
    competency = get_object_or_404(Competency.objects.current(), slug=slug)
    try:
        framework.retire_competency(by=request.user, competency=competency)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("competency_edit", slug)
    messages.success(request, f"{competency.name} retired: roles can no longer require it.")
    return redirect("framework_edit")


def _level(slug, number) -> Level:
    return get_object_or_404(Level.objects.select_related("competency").current(), competency__slug=slug, number=number)


@hr_admin_required
@require_http_methods(["GET", "POST"])
def level_edit(request, slug, number):
    level = _level(slug, number)
    uses = framework.usage(level.competency, level.number)
    level_form = LevelForm(request.POST if "save_level" in request.POST else None, level=level)
    indicators = list(level.indicators.current())
    initial = [{"id": i.pk, "text": i.text, "ORDER": n} for n, i in enumerate(indicators, start=1)]
    formset = IndicatorFormSet(
        request.POST if "save_indicators" in request.POST else None, initial=initial, prefix="indicators"
    )
    if request.method == "POST":
        if "save_level" in request.POST and level_form.is_valid():
            try:
                services.update_level(by=request.user, level=level, **level_form.cleaned_data)
            except ValidationError as error:
                add_validation_error(level_form, error)
            else:
                messages.success(request, "Level saved." if level_form.has_changed() else NO_CHANGES)
                return redirect("level_edit", slug, number)
        elif "save_indicators" in request.POST and formset.is_valid():
            # The formset's ORDER gives the new order; ticked DELETE retires the indicator.
            items = [
                {
                    "id": form.cleaned_data.get("id"),
                    "text": form.cleaned_data.get("text", ""),
                    "retire": form.cleaned_data.get("DELETE", False),
                }
                for form in formset.ordered_forms
            ] + [
                {"id": form.cleaned_data.get("id"), "text": "", "retire": True}
                for form in formset.deleted_forms
                if form.cleaned_data.get("id")
            ]
            try:
                services.update_indicators(by=request.user, level=level, items=items)
            except ValidationError as error:
                formset._non_form_errors = formset.error_class(error.messages)
            else:
                messages.success(
                    request,
                    "Indicators saved. Reworded and retired indicators are kept for the records that cite them."
                    if formset.has_changed()
                    else NO_CHANGES,
                )
                return redirect("level_edit", slug, number)
    retired = level.indicators.filter(retired_at__isnull=False).select_related("replaced_by").order_by("-retired_at")
    return render(
        request,
        "competencies/edit/level.html",
        {"level": level, "uses": uses, "level_form": level_form, "formset": formset, "retired": retired},
    )


@hr_admin_required
@require_http_methods(["GET", "POST"])
def level_create(request, slug):
    competency = get_object_or_404(Competency.objects.current(), slug=slug)
    form = NewLevelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        rule = data["kind"] == "rule"
        try:
            level = services.add_level(
                by=request.user,
                competency=competency,
                number=data["number"],
                lead="" if rule else data["lead"],
                indicators=[] if rule else data["indicators"].splitlines(),
                sustained_level=data["sustained_level"] if rule else None,
                sustained_months=data["sustained_months"] if rule else None,
                rule_text=data["rule_text"] if rule else "",
            )
        except ValidationError as error:
            add_validation_error(form, error)
        else:
            messages.success(request, f"Level {level.number} added to {competency.name}.")
            return redirect("competency_edit", slug)
    return render(request, "competencies/edit/level_create.html", {"form": form, "competency": competency})


@hr_admin_required
@require_POST
def level_retire(request, slug, number):
    level = _level(slug, number)
    try:
        framework.retire_level(by=request.user, level=level)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("level_edit", slug, number)
    messages.success(request, f"Level {level.number} of {level.competency.name} retired.")
    return redirect("competency_edit", slug)
