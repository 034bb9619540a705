"""The scoring page and the self-assessment save themselves (static/js/autosave.js posts the whole form
to the page's autosave address): the same service and revision check as the Save button, an answer the
page can show (each competency's progress and its level as the server derives it), a clear refusal,
and one audit entry per person per record per sitting."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from appraisal.models import Appraisal, IndicatorRating, ScoredCompetency
from appraisal.selectors import appraisal_sheet
from audit.models import AuditEntry
from tests.appraisals import complete, open_appraisal, reload
from tests.test_appraisal_pages import form_data

pytestmark = pytest.mark.django_db

State = Appraisal.State


def autosave_url(appraisal, *, for_self=False):
    return reverse(
        "appraisal_self_assessment_autosave" if for_self else "appraisal_review_autosave", args=[appraisal.pk]
    )


def first_competency(appraisal):
    competency = appraisal_sheet(reload(appraisal)).competencies[0]
    return competency, [row.indicator.pk for level in competency.levels for row in level.indicators]


def test_an_autosave_saves_the_form_and_answers_with_progress_and_the_derived_level(client, hr, manager, staff):
    appraisal = open_appraisal(hr, staff)
    competency, ids = first_competency(appraisal)
    data = form_data(appraisal, rating="")  # nothing rated yet but the first competency's indicators
    data.update({f"rating-{pk}": "consistently" for pk in ids})
    client.force_login(manager)
    response = client.post(autosave_url(appraisal), data)
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    answer = response.json()
    assert answer["saved"] is True and answer["revision"] == reload(appraisal).revision == data["revision"] + 1
    assert answer["rated"] == len(ids) and answer["total"] == len(appraisal_sheet(reload(appraisal)).indicator_ids)
    first = answer["competencies"][0]
    assert (first["id"], first["rated"], first["total"]) == (competency.scored.competency_id, len(ids), len(ids))
    scored = ScoredCompetency.objects.get(appraisal=appraisal, competency_id=competency.scored.competency_id)
    assert scored.derived_level == scored.exceptional_level  # every level of the window demonstrated
    assert first["level"] == scored.level_label(scored.derived_level)  # as the server derived it, by the save
    assert IndicatorRating.objects.filter(scored_competency=scored, rating="consistently").count() == len(ids)
    assert answer["saved_at"] == timezone.localtime(reload(appraisal).updated_at).strftime("%H:%M")


def test_an_autosave_from_an_older_revision_is_a_conflict_and_saves_nothing(client, hr, manager, staff):
    appraisal = open_appraisal(hr, staff)
    client.force_login(manager)
    stale = form_data(appraisal, objectives="From the second tab")
    assert client.post(autosave_url(appraisal), form_data(appraisal, objectives="From the first tab")).json()["saved"]
    response = client.post(autosave_url(appraisal), stale)
    assert response.status_code == 409
    answer = response.json()
    assert answer == {"saved": False, "conflict": True, "message": answer["message"]}
    assert "after you opened it" in answer["message"] and "Reload the page" in answer["message"]
    assert reload(appraisal).objectives == "From the first tab"


def test_an_autosave_of_a_form_with_a_problem_says_what_and_saves_nothing(client, hr, manager, staff):
    appraisal = open_appraisal(hr, staff)
    competency, _ = first_competency(appraisal)
    before = reload(appraisal).revision
    client.force_login(manager)
    data = form_data(appraisal, **{f"override-{competency.scored.competency_id}": str(competency.scored.entry_level)})
    response = client.post(autosave_url(appraisal), data)
    assert response.status_code == 400 and response.json()["saved"] is False
    assert "Give the reason for overriding the derived level." in response.json()["message"]
    assert reload(appraisal).revision == before


def test_an_autosave_is_the_appraisers_alone_and_only_while_the_form_is_open(client, hr, manager, staff):
    appraisal = open_appraisal(hr, staff)
    client.force_login(staff)
    assert client.post(autosave_url(appraisal), form_data(appraisal)).status_code == 403
    client.logout()
    response = client.post(autosave_url(appraisal), form_data(appraisal))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))  # the script says: signed out
    completed = complete(appraisal, manager=manager, staff=staff)
    client.force_login(manager)
    response = client.post(autosave_url(completed), form_data(completed))
    assert response.status_code == 409 and "form is closed" in response.json()["message"]


def test_autosaves_of_one_sitting_are_one_audit_entry(client, hr, manager, staff, monkeypatch):
    appraisal = open_appraisal(hr, staff)
    client.force_login(manager)
    for objectives in ("Lead", "Lead the rota", "Lead the rota review"):
        assert client.post(autosave_url(appraisal), form_data(appraisal, objectives=objectives)).json()["saved"]
    entries = AuditEntry.objects.filter(object_id=str(appraisal.pk), action="save review (autosaved)")
    assert entries.count() == 1
    changes = entries.get().changes
    assert changes["objectives"] == ["", "Lead the rota review"]  # the first value before, the last after
    assert sum(1 for key in changes if "derived level" in key) == len(appraisal_sheet(reload(appraisal)).competencies)

    # Typing back what was there drops the field from the entry; nothing changed writes nothing.
    client.post(autosave_url(appraisal), form_data(appraisal, objectives=""))
    assert "objectives" not in entries.get().changes
    client.post(autosave_url(appraisal), form_data(appraisal, objectives=""))
    assert entries.count() == 1

    # The Save button writes its own entry; an autosave after it starts a new sitting's entry.
    client.post(reverse("appraisal_review", args=[appraisal.pk]), form_data(appraisal, objectives="Saved"))
    client.post(autosave_url(appraisal), form_data(appraisal, objectives="Saved, then typed"))
    assert entries.count() == 2
    # So does an autosave more than half an hour after the sitting's last.
    later = timezone.now() + datetime.timedelta(minutes=31)
    monkeypatch.setattr(timezone, "now", lambda: later)
    client.post(autosave_url(appraisal), form_data(appraisal, objectives="The next morning"))
    assert entries.count() == 3


def test_the_self_assessment_saves_itself_too(client, hr, staff, manager):
    appraisal = open_appraisal(hr, staff, self_assessment=True)
    sheet = appraisal_sheet(appraisal)
    data = {"revision": appraisal.revision, "self_assessment_comments": "A steady year"}
    data.update({f"rating-{pk}": "partly" for pk in sheet.indicator_ids})
    data.update({f"evidence-{pk}": "" for pk in sheet.indicator_ids})
    client.force_login(staff)
    answer = client.post(autosave_url(appraisal, for_self=True), data).json()
    assert answer["saved"] and answer["rated"] == answer["total"] == len(sheet.indicator_ids)
    assert reload(appraisal).self_assessment_comments == "A steady year"
    assert AuditEntry.objects.filter(action="save self-assessment (autosaved)").count() == 1
    client.force_login(manager)
    assert client.post(autosave_url(appraisal, for_self=True), data).status_code == 403


def test_the_page_shows_its_progress_and_loads_the_autosave(client, hr, manager, staff):
    appraisal = open_appraisal(hr, staff)
    competency, ids = first_competency(appraisal)
    client.force_login(manager)
    data = form_data(appraisal, rating="")
    data.update({f"rating-{pk}": "partly" for pk in ids})
    client.post(reverse("appraisal_review", args=[appraisal.pk]), data)
    page = client.get(reverse("appraisal_review", args=[appraisal.pk])).content.decode()
    total = len(appraisal_sheet(reload(appraisal)).indicator_ids)
    assert f"<strong data-rated>{len(ids)}</strong> of {total} indicators rated" in page
    assert f'data-progress="{competency.scored.competency_id}">{len(ids)} of {len(ids)} rated' in page
    assert f'data-autosave="{autosave_url(appraisal)}"' in page and "js/autosave." in page
    assert 'id="autosave-status" role="status"' in page


def test_an_autosave_makes_a_bounded_number_of_queries(client, hr, manager, staff, django_assert_max_num_queries):
    appraisal = open_appraisal(hr, staff)
    _, ids = first_competency(appraisal)
    client.force_login(manager)
    client.post(autosave_url(appraisal), form_data(appraisal, objectives="Warm"))
    # One click: a rating changes, the competency's level is derived again, the sitting's audit entry grows.
    # The session, the user (with their staff record), the appraisal, its sheet (4), the save (7: the record,
    # the ratings, the indicators' words for the audit trail, the levels, the audit entry) and its transaction's two.
    data = form_data(appraisal, **{f"rating-{ids[0]}": "partly"})
    with django_assert_max_num_queries(16):
        answer = client.post(autosave_url(appraisal), data).json()
    assert answer["saved"]
    assert IndicatorRating.objects.get(scored_competency__appraisal=appraisal, indicator_id=ids[0]).rating == "partly"
    data = form_data(appraisal, **{f"rating-{pk}": "consistently" for pk in ids})
    with django_assert_max_num_queries(16):  # and many clicks at once: the same queries, whatever their number
        answer = client.post(autosave_url(appraisal), data).json()
    assert answer["saved"] and answer["competencies"][0]["rated"] == len(ids)
    assert set(
        IndicatorRating.objects.filter(scored_competency__appraisal=appraisal, indicator_id__in=ids).values_list(
            "rating", flat=True
        )
    ) == {"consistently"}


def test_a_rating_that_is_no_rating_is_refused_by_the_autosave_and_the_page(client, hr, manager, staff):
    appraisal = open_appraisal(hr, staff)
    _, ids = first_competency(appraisal)
    client.force_login(manager)
    data = form_data(appraisal, **{f"rating-{ids[0]}": "brilliant"})
    response = client.post(autosave_url(appraisal), data)
    assert response.status_code == 400 and "“brilliant” is not one of them" in response.json()["message"]
    page = client.post(reverse("appraisal_review", args=[appraisal.pk]), data)
    assert page.status_code == 200 and "“brilliant” is not one of them" in page.content.decode()
    assert not IndicatorRating.objects.filter(scored_competency__appraisal=appraisal).exists()
