from crispy_forms.layout import Column, Layout, Row
from django import forms

from competencies.models import HIGHEST_LEVEL, LOWEST_LEVEL, Level
from core.forms import OrderedFormSet, form_helper, ordered_formset


class CompetencyForm(forms.Form):
    name = forms.CharField(max_length=120)
    relevance_to_recovery = forms.CharField(
        label="Relevance to Recovery",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Leave empty if the competency has none.",
    )
    note = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text="e.g. who counts as a customer."
    )

    helper = form_helper()


class LevelForm(forms.Form):
    """The lead sentence of a level of indicators, or the terms of a sustained-level rule."""

    lead = forms.CharField(
        label="Lead sentence",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Optional: a sentence that introduces the indicators.",
    )
    sustained_level = forms.TypedChoiceField(
        label="Level to sustain", coerce=int, choices=[(n, f"Level {n}") for n in range(1, 5)]
    )
    sustained_months = forms.IntegerField(label="For how many months", min_value=1, max_value=120)
    rule_text = forms.CharField(label="Wording of the rule", widget=forms.Textarea(attrs={"rows": 2}))

    helper = form_helper()

    def __init__(self, *args, level: Level, **kwargs):
        initial = {
            "lead": level.lead,
            "sustained_level": level.sustained_level,
            "sustained_months": level.sustained_months,
            "rule_text": level.rule_text,
        }
        super().__init__(*args, initial=initial, **kwargs)  # type: ignore[misc]  # the level gives the initial values, never the caller
        self.level = level
        names = ("sustained_level", "sustained_months", "rule_text") if level.is_sustained_rule else ("lead",)
        for name in list(self.fields):
            if name not in names:
                del self.fields[name]

    def clean_sustained_level(self):
        value = self.cleaned_data["sustained_level"]
        if value >= self.level.number:
            raise forms.ValidationError("The level to sustain must be below this level.")
        return value


class IndicatorForm(forms.Form):
    id = forms.IntegerField(widget=forms.HiddenInput, required=False)
    text = forms.CharField(label="Indicator", widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=2000)

    helper = form_helper(
        Layout(
            "id",
            Row(
                Column("text", css_class="col-md-8"),
                Column("ORDER", css_class="col-6 col-md-2"),
                Column("DELETE", css_class="col-6 col-md-2 pt-md-4"),
            ),
        )
    )


class IndicatorBaseFormSet(OrderedFormSet):
    delete_label = "Retire"


IndicatorFormSet = ordered_formset(IndicatorForm, extra=2, formset=IndicatorBaseFormSet)


class NewLevelForm(forms.Form):
    number = forms.TypedChoiceField(
        label="Level", coerce=int, choices=[(n, f"Level {n}") for n in range(LOWEST_LEVEL, HIGHEST_LEVEL + 1)]
    )
    kind = forms.ChoiceField(
        label="The level is",
        choices=[
            ("indicators", "Behavioural indicators"),
            ("rule", "A sustained-level rule (met from appraisal history)"),
        ],
        widget=forms.RadioSelect,
        initial="indicators",
    )
    lead = forms.CharField(label="Lead sentence (optional)", required=False, widget=forms.Textarea(attrs={"rows": 2}))
    indicators = forms.CharField(
        label="Indicators",
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="One indicator per line.",
    )
    sustained_level = forms.TypedChoiceField(
        label="Level to sustain",
        coerce=int,
        required=False,
        empty_value=None,
        choices=[("", "—")] + [(n, f"Level {n}") for n in range(1, 5)],
    )
    sustained_months = forms.IntegerField(
        label="For how many months", required=False, min_value=1, max_value=120, initial=12
    )
    rule_text = forms.CharField(label="Wording of the rule", required=False, widget=forms.Textarea(attrs={"rows": 2}))

    helper = form_helper()

    def clean(self):
        super().clean()
        data = self.cleaned_data
        if data.get("kind") == "rule":
            for name in ("sustained_level", "sustained_months", "rule_text"):
                if not data.get(name):
                    self.add_error(name, "Needed for a sustained-level rule.")
            if data.get("sustained_level") and data.get("number") and data["sustained_level"] >= data["number"]:
                self.add_error("sustained_level", "The level to sustain must be below the new level.")
        elif not data.get("indicators", "").strip():
            self.add_error("indicators", "Give at least one indicator, one per line.")
        return data
