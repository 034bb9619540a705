"""Each irreversible step of an appraisal asks first, on a page of its own (no JavaScript needed): what
is incomplete, who will be told, what can't be undone. Nothing changes until it is confirmed."""

import html
import re

import pytest
from django.urls import reverse

from appraisal.models import Appraisal
from appraisal.selectors import appraisal_sheet
from appraisal.services import scoring, workflow
from outbox.models import Email
from tests.appraisals import fresh, open_appraisal, rate, reload
from tests.snapshots import snapshot

State = Appraisal.State


def _text(response) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode())))


def _hidden(response) -> dict[str, str]:
    """The confirmation form's fields, as the browser would post them."""
    html = response.content.decode()
    form = html[html.index('<form method="post" action=') :]
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))


@pytest.fixture
def with_emails(manager, staff):
    for user, address in ((manager, "manager@example.org"), (staff, "staff@example.org")):
        user.email = address
        user.save()


def _in(state, hr, manager, staff, *, agrees=True):
    """`staff`'s appraisal, walked to `state` by the services."""
    appraisal = open_appraisal(hr, staff, self_assessment=state == State.SELF_ASSESSMENT)
    if state == State.SELF_ASSESSMENT:
        return appraisal
    appraisal = rate(appraisal, manager)
    if state == State.MANAGER_REVIEW:
        return appraisal
    appraisal = workflow.share(by=fresh(manager), appraisal=reload(appraisal))
    if state == State.AWAITING_SIGN_OFF:
        return appraisal
    comments = "Fair." if agrees else "The level for teamwork is too low."
    return workflow.sign_off(by=fresh(staff), appraisal=reload(appraisal), agrees=agrees, comments=comments)


STEPS = [
    # (url name, state, who, posted fields, what the page must say, the state after)
    (
        "appraisal_submit_self_assessment",
        State.SELF_ASSESSMENT,
        "staff",
        {},
        ["Send your self-assessment to Manager Example?", "not rated in", "Manager Example is emailed"],
        State.MANAGER_REVIEW,
    ),
    (
        "appraisal_share",
        State.MANAGER_REVIEW,
        "manager",
        {},
        ["Share the record with Staff Example for sign-off?", "Staff Example is emailed", "What can't be undone"],
        State.AWAITING_SIGN_OFF,
    ),
    (
        "appraisal_sign_off",
        State.AWAITING_SIGN_OFF,
        "staff",
        {"agrees": "yes", "comments": "A fair record."},
        ["Sign off your appraisal?", "A fair record.", "Manager Example is emailed", "can't change your answer"],
        State.AWAITING_COUNTERSIGN,
    ),
    (
        "appraisal_countersign",
        State.AWAITING_COUNTERSIGN,
        "manager",
        {"comments": "Well done."},
        ["Countersign and complete Staff Example's appraisal?", "Well done.", "completed and locked"],
        State.COMPLETED,
    ),
]


@pytest.mark.parametrize("name, state, who, fields, says, after", STEPS, ids=[step[0] for step in STEPS])
def test_each_step_asks_first_and_nothing_happens_until_confirmed(
    client, hr, manager, staff, with_emails, name, state, who, fields, says, after
):
    appraisal = _in(state, hr, manager, staff)
    client.force_login({"staff": staff, "manager": manager}[who])
    url = reverse(name, args=[appraisal.pk])
    emails = Email.objects.count()
    before = snapshot()
    response = client.post(url, {**fields, "revision": reload(appraisal).revision})
    assert response.status_code == 200
    text = _text(response)
    for words in says:
        assert words in text, words
    assert snapshot() == before and Email.objects.count() == emails  # asked, and nothing done

    posted = _hidden(response)  # the page's own form: the fields again, with confirmed=1
    assert posted["confirmed"] == "1" and posted["revision"] == str(reload(appraisal).revision)
    assert {key: posted[key] for key in fields} == fields
    response = client.post(url, posted)
    assert response.status_code == 302
    assert reload(appraisal).state == after
    assert Email.objects.count() > emails  # and who was to be told is told


def test_sending_a_self_assessment_says_how_much_is_unrated(client, hr, manager, staff):
    appraisal = open_appraisal(hr, staff, self_assessment=True)
    sheet = appraisal_sheet(reload(appraisal))
    first = sheet.competencies[0]
    rated = {row.indicator.pk: ("consistently", "") for level in first.levels for row in level.indicators}
    scoring.save_self_assessment(
        by=fresh(staff), appraisal=reload(appraisal), revision=reload(appraisal).revision, ratings=rated, comments=""
    )
    unrated = sum(len(level.indicators) for competency in sheet.competencies[1:] for level in competency.levels)
    competencies = len(sheet.competencies) - 1
    client.force_login(staff)
    response = client.post(
        reverse("appraisal_submit_self_assessment", args=[appraisal.pk]), {"revision": reload(appraisal).revision}
    )
    text = _text(response)
    assert f"{unrated} indicators not rated in {competencies} competencies" in text
    assert "No comments on the year." in text
    assert "You can still go ahead" in text  # incomplete work may be sent, knowingly
    assert 'name="confirmed"' in response.content.decode()


def test_sharing_an_unscored_record_says_what_to_do_first_and_offers_no_way_on(client, hr, manager, staff):
    appraisal = open_appraisal(hr, staff)
    client.force_login(manager)
    url = reverse("appraisal_share", args=[appraisal.pk])
    response = client.post(url, {"revision": reload(appraisal).revision})
    text = _text(response)
    assert "To do first" in text and "not scored yet" in text and "date of the appraisal meeting" in text
    assert 'name="confirmed"' not in response.content.decode()
    # A confirmation forged anyway is refused by the step itself, with the reason.
    response = client.post(url, {"revision": reload(appraisal).revision, "confirmed": "1"}, follow=True)
    assert reload(appraisal).state == State.MANAGER_REVIEW
    assert "before sharing" in response.content.decode()


def test_sign_off_errors_are_shown_on_the_form_before_any_confirmation(client, hr, manager, staff):
    appraisal = _in(State.AWAITING_SIGN_OFF, hr, manager, staff)
    client.force_login(staff)
    response = client.post(
        reverse("appraisal_sign_off", args=[appraisal.pk]),
        {"agrees": "no", "comments": "  ", "revision": reload(appraisal).revision},
    )
    assert response.status_code == 400 and "Say what you disagree with" in response.content.decode()


def test_a_stale_page_is_told_so_rather_than_asked(client, hr, manager, staff):
    appraisal = _in(State.MANAGER_REVIEW, hr, manager, staff)
    client.force_login(manager)
    response = client.post(
        reverse("appraisal_share", args=[appraisal.pk]), {"revision": reload(appraisal).revision - 1}, follow=True
    )
    assert "Share the record with" not in _text(response).split("What you can do")[0]
    assert reload(appraisal).state == State.MANAGER_REVIEW
    assert "after you opened it" in response.content.decode()


def test_someone_else_is_refused_not_asked(client, hr, manager, staff, other_manager):
    appraisal = _in(State.MANAGER_REVIEW, hr, manager, staff)
    client.force_login(staff)  # the person, not the appraiser
    response = client.post(reverse("appraisal_share", args=[appraisal.pk]), {"revision": reload(appraisal).revision})
    assert response.status_code == 403
    client.force_login(other_manager)
    response = client.post(reverse("appraisal_share", args=[appraisal.pk]), {"revision": reload(appraisal).revision})
    assert response.status_code == 404


def test_someone_who_cannot_sign_in_is_named_as_not_emailed(client, hr, manager, staff, with_emails):
    appraisal = _in(State.MANAGER_REVIEW, hr, manager, staff)
    staff.set_unusable_password()
    staff.save()
    client.force_login(manager)
    response = client.post(reverse("appraisal_share", args=[appraisal.pk]), {"revision": reload(appraisal).revision})
    assert "Staff Example cannot sign in yet (HR can invite them), so is not emailed" in _text(response)
