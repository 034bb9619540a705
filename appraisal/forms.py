import functools
from collections.abc import Sequence
from typing import cast

from django import forms
from django.core.exceptions import ValidationError
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from appraisal.models import Appraisal, AppraisalCycle, IndicatorRating, ScoredCompetency
from appraisal.selectors import Sheet
from core.forms import form_helper
from staff.models import StaffMember

RATING_CHOICES = [("", "Not rated"), *IndicatorRating.Rating.choices]
RATING_CHOICE_LABELS = dict(RATING_CHOICES)


class RatingField(forms.CharField):
    """An indicator's rating: one of RATING_CHOICES' values. The page draws its radio buttons itself, so
    this is a CharField that checks the value, without a ChoiceField's widget and choices to build (a
    form has about 94 of them, and the autosave builds one a moment after each change)."""

    default_error_messages = {"invalid_choice": "Choose one of the ratings; “%(value)s” is not one of them."}

    def validate(self, value):
        super().validate(value)
        if value not in RATING_CHOICE_LABELS:
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice", params={"value": value})


# One indicator's fieldset (its rating group, references and evidence) is built in Python: the page
# has about ninety of them with four radio buttons each, and rendering them through the template
# engine was most of the page's time. The markup is in the format strings below; every value goes
# in through `format_html`, which escapes it. Each `format_html` argument costs about a
# microsecond, so a fieldset takes few: one call for its radio buttons, one for the rest.
RADIO = (
    '<span class="form-check form-check-inline"><input class="form-check-input" type="radio" name="rating-{pk}" '
    'id="r{pk}-{n}" value="{value_n}"{checked}><label class="form-check-label" for="r{pk}-{n}">{label_n}</label></span>'
)


def _rating_group(checked: str | None) -> str:
    """The format string of an indicator's radio buttons, RADIO for each rating choice with its
    number and whether it is `checked` written in, its value and label the fields `value_<n>` and
    `label_<n>` (RATING_FIELDS)."""
    return "".join(
        RADIO.replace("{checked}", " checked" if choice == checked else "")
        .replace("_n}", f"_{n}}}")
        .replace("{n}", str(n))
        for n, (choice, _) in enumerate(RATING_CHOICES, start=1)
    )


RATING_GROUPS = {choice: _rating_group(choice) for choice, _ in RATING_CHOICES}
NO_RATING_GROUP = _rating_group(None)  # a submitted value that is no choice: nothing checked
# The rating choices' values and labels, escaped (by format_html) once, not in every fieldset.
RATING_FIELDS = {
    f"{field}_{n}": format_html("{}", text)
    for n, (choice, label) in enumerate(RATING_CHOICES, start=1)
    for field, text in (("value", choice), ("label", label))
}
REFERENCE = '<p class="{css}">{lead}: <strong>{label}</strong>{said}</p>\n'
SAID = " – “{}”"
ERROR = '<p class="mb-0">{}</p>'
ERRORS = '<div class="invalid-feedback d-block" id="i{pk}-error">{messages}</div>\n'
DESCRIBED = ' aria-describedby="i{}-error"'
FIELDSET = (
    '<fieldset class="indicator{invalid}" id="i{pk}"{described}>\n'
    '<legend class="indicator-text">{text}</legend>\n'
    '<div class="indicator-ratings" role="presentation">{radios}</div>\n'
    "{references}"
    "<details{open}>\n"
    "<summary>Evidence{written}</summary>\n"
    '<label class="visually-hidden" for="e{pk}">Evidence for: {text}</label>\n'
    '<textarea class="form-control form-control-sm{invalid}" name="evidence-{pk}" id="e{pk}" rows="2"{described}>'
    "{evidence}</textarea>\n"
    "</details>\n"
    "{errors}"
    "</fieldset>"
)


@functools.lru_cache(maxsize=64)
def _reference(css: str, lead: str, label: str) -> SafeString:
    """A reference line without a quote (the same few on every fieldset of a page)."""
    return format_html(REFERENCE, css=css, lead=lead, label=label, said="")


def indicator_fieldset(
    *, pk: int, text: str, value: str, evidence: str, errors: Sequence[object], references: list[tuple[str, ...]]
) -> SafeString:
    """The fieldset of one indicator: `references` are (CSS class, lead-in, rating label [, quote]) lines."""
    invalid = bool(errors)
    radios = format_html(RATING_GROUPS.get(value, NO_RATING_GROUP), pk=pk, **RATING_FIELDS)
    lines = SafeString(
        "".join(
            format_html(REFERENCE, css=css, lead=lead, label=label, said=format_html(SAID, quote[0]))
            if quote and quote[0]
            else _reference(css, lead, label)
            for css, lead, label, *quote in references
        )
    )
    return format_html(
        FIELDSET,
        pk=pk,
        text=text,
        invalid=" is-invalid" if invalid else "",
        described=format_html(DESCRIBED, pk) if invalid else "",
        radios=radios,
        references=lines,
        open=" open" if evidence or invalid else "",
        written=" (written)" if evidence else "",
        evidence=evidence,
        errors=format_html(ERRORS, pk=pk, messages=format_html_join("", ERROR, ((error,) for error in errors)))
        if invalid
        else "",
    )


# Longer than a real appraisal's text, short enough that a record with every field full still makes a PDF
# within settings.PDF_TIME_LIMIT (about 4 s with all of them full, on 2 cores): evidence for one indicator
# (a record has about 94, each with the person's own too), a short note (an override's reason, a
# measure's comment, a reassignment's reason), and the record's long texts.
EVIDENCE_LIMIT = 1_000
NOTE_LIMIT = 2_000
TEXT_LIMIT = 5_000


def override_choices(scored: ScoredCompetency) -> list[tuple[int | str, str]]:
    """The choices of a competency's override: as derived, or a level from one below entry to exceptional."""
    return [("", "As derived")] + [
        (number, scored.level_label(number)) for number in range(scored.entry_level - 1, scored.exceptional_level + 1)
    ]


class CycleForm(forms.ModelForm):
    class Meta:
        model = AppraisalCycle
        fields = ["name", "period_start", "period_end", "due_on", "self_assessment"]
        widgets = {
            "period_start": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "period_end": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "due_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        }
        help_texts = {"name": "For example “Annual appraisal 2026”."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = form_helper()


class SheetForm(forms.Form):
    """The long form of an appraisal: a rating and evidence per indicator, and, for the appraiser,
    an override per competency, a comment per performance measure and the record's other fields.

    Fields are named `rating-<indicator id>`, `evidence-<indicator id>`, `override-<competency id>`,
    `reason-<competency id>` and `measure-<measure id>`. The page renders them in one template loop
    from `rows()`, not one widget template per input.
    """

    revision = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, data=None, *, sheet: Sheet, appraisal: Appraisal, for_self: bool, **kwargs):
        super().__init__(data, **kwargs)
        self.sheet, self.appraisal, self.for_self = sheet, appraisal, for_self
        self.initial.setdefault("revision", appraisal.revision)
        if self.is_bound:  # the fields validate input; an unbound form is shown from `initial` by rows()
            # One field object for all the ratings and one for all the evidence: a field keeps no state
            # of its own name or value, and a hundred identical ones cost an autosave a millisecond or two.
            rating, evidence = (
                RatingField(required=False),
                forms.CharField(required=False, max_length=EVIDENCE_LIMIT, strip=True),
            )
            for indicator_id in sheet.indicator_ids:
                self.fields[f"rating-{indicator_id}"] = rating
                self.fields[f"evidence-{indicator_id}"] = evidence
        for competency in sheet.competencies:
            for row in competency.levels:
                for indicator in row.indicators:
                    self.initial.setdefault(
                        f"rating-{indicator.indicator.pk}", indicator.self_rating if for_self else indicator.rating
                    )
                    self.initial.setdefault(
                        f"evidence-{indicator.indicator.pk}",
                        indicator.self_evidence if for_self else indicator.evidence,
                    )
        if for_self:
            self.fields["self_assessment_comments"] = forms.CharField(
                label="Your comments on the year",
                required=False,
                max_length=TEXT_LIMIT,
                widget=forms.Textarea(attrs={"rows": 4}),
            )
            self.initial.setdefault("self_assessment_comments", appraisal.self_assessment_comments)
            return
        for competency in sheet.competencies:
            scored = competency.scored
            self.fields[f"override-{scored.competency_id}"] = forms.TypedChoiceField(
                choices=override_choices(scored), coerce=int, empty_value=None, required=False
            )
            self.fields[f"reason-{scored.competency_id}"] = forms.CharField(required=False, max_length=NOTE_LIMIT)
            self.initial.setdefault(
                f"override-{scored.competency_id}", scored.override_level if scored.override_level is not None else ""
            )
            self.initial.setdefault(f"reason-{scored.competency_id}", scored.override_reason)
        for item in sheet.measures:
            self.fields[f"measure-{item['measure'].pk}"] = forms.CharField(required=False, max_length=NOTE_LIMIT)
            self.initial.setdefault(f"measure-{item['measure'].pk}", item["comment"])
        self.fields["meeting_date"] = forms.DateField(
            label="Date of the appraisal meeting",
            required=False,
            widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        )
        for name, label in (
            ("objectives", "Objectives for the next year"),
            ("development_plan", "Development plan"),
            ("manager_comments", "Overall comments"),
        ):
            self.fields[name] = forms.CharField(
                label=label, required=False, max_length=TEXT_LIMIT, widget=forms.Textarea(attrs={"rows": 4})
            )
        for name in ("meeting_date", "objectives", "development_plan", "manager_comments"):
            self.initial.setdefault(name, getattr(appraisal, name))

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data  # what Form.clean returns
        if self.for_self:
            return cleaned
        for competency in self.sheet.competencies:
            competency_id = competency.scored.competency_id
            level, reason = (
                cleaned.get(f"override-{competency_id}"),
                (cleaned.get(f"reason-{competency_id}") or "").strip(),
            )
            if level is not None and not reason:
                self.add_error(f"reason-{competency_id}", "Give the reason for overriding the derived level.")
            elif level is None and reason:
                self.add_error(
                    f"override-{competency_id}",
                    "Choose the level you give instead of the derived one, or clear the reason.",
                )
        return cleaned

    def value(self, name: str):
        """The field's value as the page shows it: what was submitted, else what is saved."""
        if self.is_bound:
            return self.data.get(name, "")
        value = self.initial.get(name, "")
        return "" if value is None else value

    def ratings(self) -> dict[int, tuple[str, str]]:
        return {
            indicator_id: (self.cleaned_data[f"rating-{indicator_id}"], self.cleaned_data[f"evidence-{indicator_id}"])
            for indicator_id in self.sheet.indicator_ids
        }

    def overrides(self) -> dict[int, tuple[int | None, str]]:
        return {
            competency.scored.competency_id: (
                self.cleaned_data[f"override-{competency.scored.competency_id}"],
                self.cleaned_data[f"reason-{competency.scored.competency_id}"],
            )
            for competency in self.sheet.competencies
        }

    def measures(self) -> dict[int, str]:
        return {item["measure"].pk: self.cleaned_data[f"measure-{item['measure'].pk}"] for item in self.sheet.measures}

    def rows(self, *, conflict: bool = False) -> list[dict]:
        """The page's competencies, each level's indicators as HTML (`indicator_fieldset`), for one
        template loop; with `conflict`, each indicator whose saved rating differs says what is saved."""
        errors = self.errors if self.is_bound else {}
        rows = []
        for competency in self.sheet.competencies:
            scored = competency.scored
            levels = []
            for level in competency.levels:
                indicators = []
                for row in level.indicators:
                    pk = row.indicator.pk
                    value = self.value(f"rating-{pk}")
                    saved = row.self_rating if self.for_self else row.rating
                    references: list[tuple[str, ...]] = []
                    if not self.for_self and row.self_rating:
                        references.append(("reference", "Self-assessment", row.self_rating_label, row.self_evidence))
                    if row.last_rating:
                        references.append(("reference", "Last year", row.last_rating_label))
                    if conflict and value != saved and RATING_CHOICE_LABELS.get(saved):
                        references.append(("reference text-danger-emphasis", "Saved now", RATING_CHOICE_LABELS[saved]))
                    indicators.append(
                        indicator_fieldset(
                            pk=pk,
                            text=row.indicator.text,
                            value=value,
                            evidence=self.value(f"evidence-{pk}"),
                            errors=errors.get(f"rating-{pk}", []) + errors.get(f"evidence-{pk}", []),
                            references=references,
                        )
                    )
                levels.append(
                    {"level": level, "indicators": SafeString("\n".join(indicators))}
                )  # fieldsets from format_html
            ids = [row.indicator.pk for level in competency.levels for row in level.indicators]
            item = {
                "competency": competency,
                "scored": scored,
                "levels": levels,
                "rated": sum(1 for pk in ids if self.value(f"rating-{pk}")),
                "total": len(ids),
                "derived_label": scored.level_label(scored.derived_level),
                "self_label": scored.level_label(scored.self_level),
                "last_label": scored.level_label(competency.last_level),
            }
            if not self.for_self:
                override = str(self.value(f"override-{scored.competency_id}"))
                item.update(
                    override_choices=[
                        (str(choice), label, str(choice) == override) for choice, label in override_choices(scored)
                    ],
                    reason=self.value(f"reason-{scored.competency_id}"),
                    override_errors=errors.get(f"override-{scored.competency_id}", []),
                    reason_errors=errors.get(f"reason-{scored.competency_id}", []),
                )
            rows.append(item)
        return rows

    def error_links(self) -> list[dict]:
        """For the summary at the top of the page: each field in error, as a link to it."""
        if not self.is_bound:
            return []
        names = {f"c{item.scored.competency_id}": item.scored.name for item in self.sheet.competencies}
        owners = {
            row.indicator.pk: item.scored.name
            for item in self.sheet.competencies
            for level in item.levels
            for row in level.indicators
        }
        links = []
        for name, errors in self.errors.items():
            kind, _, key = name.partition("-")
            if kind in ("override", "reason"):
                target, label = (
                    f"reason{key}" if kind == "reason" else f"o{key}",
                    f"{names.get('c' + key, '')}: final level",
                )
            elif kind in ("rating", "evidence") and key.isdigit():
                target, label = f"i{key}", f"{owners.get(int(key), '')}: an indicator"
            elif kind == "measure":
                target, label = name, "A performance measure"
            elif name in self.fields and name != "revision":
                target, label = f"id_{name}", str(self.fields[name].label or name)  # the labels are plain text
            else:
                continue
            links.append({"target": target, "label": label, "message": errors[0]})
        return links

    def record_fields(self) -> dict:
        """The appraiser's other fields: the meeting date's value and the text fields, for the page."""
        errors = self.errors if self.is_bound else {}
        date = self.value("meeting_date")
        return {
            "meeting_date_value": date.isoformat() if hasattr(date, "isoformat") else date,
            "text_fields": [
                {
                    "name": name,
                    "label": self.fields[name].label,
                    "value": self.value(name),
                    "errors": errors.get(name, []),
                }
                for name in ("objectives", "development_plan", "manager_comments")
            ],
        }

    def measure_rows(self) -> list[dict]:
        errors = self.errors if self.is_bound else {}
        return [
            {
                "measure": item["measure"],
                "name": f"measure-{item['measure'].pk}",
                "value": self.value(f"measure-{item['measure'].pk}"),
                "errors": errors.get(f"measure-{item['measure'].pk}", []),
            }
            for item in self.sheet.measures
        ]


class SignOffForm(forms.Form):
    agrees = forms.TypedChoiceField(
        label="Do you agree with this record?",
        choices=[("yes", "I agree with this record"), ("no", "I disagree with this record (say why below)")],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
    )
    comments = forms.CharField(
        label="Your comments", required=False, max_length=TEXT_LIMIT, widget=forms.Textarea(attrs={"rows": 4})
    )
    revision = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = form_helper()


class CountersignForm(forms.Form):
    comments = forms.CharField(
        label="Your comments (optional)",
        required=False,
        max_length=TEXT_LIMIT,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    revision = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, disagreement: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if disagreement:  # the countersignature notes it: the appraiser's response is required
            comments = self.fields["comments"]
            comments.label, comments.required = "Your response to their disagreement", True
            comments.error_messages["required"] = "Say how you have considered their comments."
        self.helper = form_helper()


class TakeBackForm(forms.Form):
    reason = forms.CharField(
        label="What you will discuss with them",
        max_length=NOTE_LIMIT,
        error_messages={"required": "Say what you will discuss with them."},
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    revision = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = form_helper()


class ReferForm(forms.Form):
    """Refer a disagreement to the line manager's manager (when there is one) or to HR."""

    to = forms.ChoiceField(
        label="Refer it to", widget=forms.RadioSelect, error_messages={"required": "Choose whom to refer it to."}
    )
    note = forms.CharField(
        label="What the disagreement is about, and what you would like decided",
        max_length=TEXT_LIMIT,
        error_messages={"required": "Say what the disagreement is about and what you would like decided."},
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    revision = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, referee: StaffMember | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [("hr", "HR")]
        if referee is not None:
            choices.insert(0, ("manager", f"{referee}, the line manager's manager"))
        cast(forms.ChoiceField, self.fields["to"]).choices = choices
        self.helper = form_helper()


class DecideReferralForm(forms.Form):
    outcome = forms.ChoiceField(
        label="What happens to the record",
        choices=[
            ("complete", "Complete it as it stands, with the disagreement and my decision kept in it"),
            ("return", "Return it to the appraiser to change, then to be shared and signed again"),
        ],
        widget=forms.RadioSelect,
        error_messages={"required": "Choose what happens to the record."},
    )
    decision = forms.CharField(
        label="Your decision and the reasons for it",
        max_length=TEXT_LIMIT,
        error_messages={"required": "Give your decision and the reasons for it."},
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    revision = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = form_helper()


class ReasonForm(forms.Form):
    reason = forms.CharField(label="Reason", max_length=NOTE_LIMIT, widget=forms.Textarea(attrs={"rows": 3}))
    revision = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = form_helper()


class ReassignForm(forms.Form):
    appraiser = forms.ModelChoiceField(queryset=StaffMember.objects.none(), label="New appraiser")
    reason = forms.CharField(label="Reason", max_length=NOTE_LIMIT, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, appraisal: Appraisal, **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["appraiser"]).queryset = (  # the class's `appraiser` field
            StaffMember.objects.active().exclude(pk=appraisal.staff_member_id).select_related("user")
        )
        self.helper = form_helper()
