"""`core.forms.QuickSelect` writes the same `<select>` as Django's own widget, in one pass; a
`ListedChoiceField` reads its list once."""

import pytest
from django import forms
from django.test.html import parse_html

from core.forms import ListedChoiceField, QuickSelect
from reports.forms import ReportFilterForm
from staff.models import Service

pytestmark = pytest.mark.django_db


class Choices(forms.Form):
    plain = forms.ChoiceField(
        choices=[("", "Any"), ("a", "Fish & chips"), ("b", '<b>"bold"</b>')], required=False, help_text="Pick one."
    )
    model = forms.ModelChoiceField(queryset=Service.objects.order_by("name"), required=False, empty_label="All")


def rendered(form, name, widget_class):
    field = form.fields[name]
    field.widget = widget_class(attrs={"class": "form-select"}, choices=field.choices)
    return str(form[name])


@pytest.mark.parametrize("data", [{}, {"plain": "b", "model": "__first__"}, {"plain": "nonsense"}])
def test_it_writes_what_django_s_select_writes(data):
    for name in ("Supported Housing, Bristol", "Crisis <House> & Co"):
        Service.objects.create(name=name)
    if data.get("model") == "__first__":
        data = {**data, "model": str(Service.objects.order_by("name").first().pk)}
    for name in ("plain", "model"):
        form = Choices(data or None)
        form.is_valid()
        quick, django = rendered(form, name, QuickSelect), rendered(Choices(data or None), name, forms.Select)
        assert parse_html(quick) == parse_html(django)
        if name == "plain":  # labels are escaped
            assert "<b>" not in quick and "&lt;b&gt;&quot;bold&quot;&lt;/b&gt;" in quick


def test_the_report_s_filters_are_quick_selects_with_their_error_and_help_links():
    Service.objects.create(name="Supported Housing, Bristol")
    form = ReportFilterForm({"service": "999"})
    assert not form.is_valid()
    html = str(form["service"])
    assert isinstance(form.fields["service"].widget, QuickSelect)
    assert 'aria-invalid="true"' in html and 'aria-describedby="id_service_helptext id_service_error"' in html
    assert "is-invalid" in html and ">All services</option>" in html


class ListedService(forms.Form):
    service = ListedChoiceField(
        queryset=Service.objects.order_by("name"),
        required=False,
        empty_label="All services",
        error_messages={"invalid_choice": "Choose a service from the list."},
    )


def test_a_listed_choice_is_read_once_for_checking_the_value_and_writing_the_options(django_assert_num_queries):
    for name in ("Crisis House", "Supported Housing, Bristol", "Night Service"):
        Service.objects.create(name=name)
    chosen = Service.objects.get(name="Night Service")
    with django_assert_num_queries(1):
        form = ListedService({"service": str(chosen.pk)})
        assert form.is_valid() and form.cleaned_data["service"] == chosen
        html = str(form["service"])
    assert f'<option value="{chosen.pk}" selected>Night Service</option>' in html
    assert html.index("Crisis House") < html.index("Night Service") < html.index("Supported Housing")
    for wrong in ("999999", "abc", "1.5"):
        form = ListedService({"service": wrong})
        assert not form.is_valid() and form.errors["service"] == ["Choose a service from the list."]
    assert ListedService({"service": ""}).is_valid()
    # Each form reads the list as it is then.
    Service.objects.create(name="Added Later")
    assert "Added Later" in str(ListedService({})["service"])


def test_the_report_s_cycle_is_the_latest_opened_when_none_is_given(hr, manager, staff):
    from appraisal.models import AppraisalCycle
    from tests.appraisals import open_appraisal

    older = open_appraisal(hr, staff, year=2025).cycle
    newer = open_appraisal(hr, staff, year=2026).cycle
    assert AppraisalCycle.objects.filter(opened_at__isnull=False).count() == 2
    form = ReportFilterForm({})
    assert form.is_valid() and form.cleaned_data["cycle"] == newer
    form = ReportFilterForm({"cycle": str(older.pk)})
    assert form.is_valid() and form.filters().cycle == older
