"""Input that looks harmless to a form but makes no sense, or spoofs what is shown: dates far outside
any sensible range, text made only of invisible characters, names with bidirectional controls, and
numbers too large for the database. Each is refused with a clear message, and nothing changes."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from appraisal.models import Appraisal, AppraisalCycle
from appraisal.services import cycles, scoring, workflow
from competencies import services as framework
from competencies.models import Competency
from roles import services as role_services
from roles.models import RoleProfile
from staff import imports as staff_imports, leaving as staff_leaving, records as staff_records
from staff.models import StaffMember
from tests.appraisals import complete, fresh, make_cycle, open_appraisal, rate, reload
from tests.snapshots import snapshot

pytestmark = pytest.mark.django_db

FAR_FUTURE = datetime.date(9999, 12, 31)
FAR_PAST = datetime.date(1, 1, 1)
# Text a browser sends that shows nothing: zero-width spaces and joiners, a word joiner, a byte-order
# mark, a Hangul filler, a right-to-left override.
INVISIBLE = ["\u200b", "\u200b\u200c\u200d", " \u2060 ", "\ufeff", "\u3164", "\u202e"]


def field_errors(error: ValidationError) -> dict:
    return error.message_dict if hasattr(error, "error_dict") else {"__all__": error.messages}


# --- dates ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("day", [FAR_FUTURE, FAR_PAST])
def test_a_role_or_line_manager_from_an_absurd_date_is_refused(hr, manager, staff, day):
    member = staff.staff_member
    before = snapshot()
    with pytest.raises(ValidationError) as error:
        staff_records.assign_role_profile(
            by=fresh(hr), member=member, role_profile=RoleProfile.objects.get(slug="housing-worker"), since=day
        )
    assert "between" in field_errors(error.value)["since"][0]
    with pytest.raises(ValidationError) as error:
        staff_records.assign_line_manager(by=fresh(hr), member=member, manager=None, since=day)
    assert "between" in field_errors(error.value)["since"][0]
    assert snapshot() == before


@pytest.mark.parametrize("day", [FAR_FUTURE, FAR_PAST])
def test_a_new_person_starting_on_an_absurd_date_is_refused(hr, manager, day):
    with pytest.raises(ValidationError) as error:
        staff_records.create_staff_member(
            by=fresh(hr),
            first_name="Alex",
            last_name="New",
            email="alex@example.org",
            role_profile=RoleProfile.objects.get(slug="housing-worker"),
            role_since=day,
            line_manager=manager.staff_member,
            manager_since=day,
        )
    errors = field_errors(error.value)
    assert "between" in errors["role_since"][0] and "between" in errors["manager_since"][0]
    assert not StaffMember.objects.filter(user__email="alex@example.org").exists()


@pytest.mark.parametrize("day", [FAR_FUTURE, FAR_PAST])
def test_an_absurd_leaving_date_is_refused(hr, staff, day):
    with pytest.raises(ValidationError) as error:
        staff_leaving.mark_leaver(by=fresh(hr), member=staff.staff_member, left_on=day)
    assert "between" in field_errors(error.value)["left_on"][0]
    assert StaffMember.objects.get(pk=staff.staff_member.pk).left_on is None


def test_the_leaving_date_form_says_why_next_to_the_field(client, hr, staff):
    client.force_login(hr)
    response = client.post(reverse("staff_mark_leaver", args=[staff.staff_member.pk]), {"left_on": "9999-12-31"})
    assert response.status_code == 200
    assert "between" in response.content.decode()
    assert StaffMember.objects.get(pk=staff.staff_member.pk).left_on is None


@pytest.mark.parametrize(
    "field, changes",
    [
        ("period_start", {"period_start": FAR_PAST}),
        ("period_end", {"period_end": FAR_FUTURE}),
        ("due_on", {"due_on": FAR_FUTURE}),
        ("period_end", {"period_end": datetime.date(2036, 3, 31)}),  # a ten-year "year under review"
    ],
)
def test_a_cycle_with_absurd_dates_is_refused(hr, field, changes):
    values = {
        "period_start": datetime.date(2025, 4, 1),
        "period_end": datetime.date(2026, 3, 31),
        "due_on": datetime.date(2026, 6, 30),
        **changes,
    }
    with pytest.raises(ValidationError) as error:
        cycles.create_cycle(by=fresh(hr), name="Annual appraisal 2026", self_assessment=False, **values)
    assert field in field_errors(error.value)
    assert not AppraisalCycle.objects.exists()


@pytest.mark.parametrize("day", [FAR_FUTURE, FAR_PAST])
def test_a_meeting_on_an_absurd_date_is_refused(hr, manager, staff, day):
    appraisal = open_appraisal(hr, staff)
    with pytest.raises(ValidationError) as error:
        rate(appraisal, manager, meeting_date=day)
    assert "between" in field_errors(error.value)["meeting_date"][0]
    assert reload(appraisal).revision == 1 and reload(appraisal).meeting_date is None


def test_a_role_profile_published_with_an_absurd_date_is_refused(hr):
    draft = role_services.start_draft(by=fresh(hr), role_profile=RoleProfile.objects.get(slug="housing-worker"))
    for day in (FAR_FUTURE, FAR_PAST):
        with pytest.raises(ValidationError) as error:
            role_services.publish(by=fresh(hr), version=draft, note="A window moved.", document_date=day)
        assert "between" in field_errors(error.value)["document_date"][0]
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_sensible_dates_are_accepted(hr, manager, staff):
    today = datetime.date.today()
    member = staff.staff_member
    staff_records.assign_line_manager(by=fresh(hr), member=member, manager=None, since=today)
    staff_leaving.mark_leaver(by=fresh(hr), member=member, left_on=today + datetime.timedelta(days=90))
    assert StaffMember.objects.get(pk=member.pk).left_on == today + datetime.timedelta(days=90)


# --- invisible text -------------------------------------------------------------------------------


@pytest.mark.parametrize("text", INVISIBLE)
def test_an_invisible_reason_for_reopening_is_no_reason(hr, manager, staff, text):
    appraisal = complete(open_appraisal(hr, staff), manager=manager, staff=staff)
    with pytest.raises(ValidationError) as error:
        workflow.reopen(by=fresh(hr), appraisal=reload(appraisal), reason=text)
    assert "reason" in field_errors(error.value)
    assert reload(appraisal).state == Appraisal.State.COMPLETED


def test_the_reopen_page_refuses_an_invisible_reason_next_to_the_field(client, hr, manager, staff):
    appraisal = complete(open_appraisal(hr, staff), manager=manager, staff=staff)
    client.force_login(hr)
    before = snapshot()
    response = client.post(
        reverse("appraisal_reopen", args=[appraisal.pk]), {"reason": "\u200b", "revision": reload(appraisal).revision}
    )
    assert response.status_code == 200
    assert "Give the reason for reopening" in response.content.decode()
    assert snapshot() == before


@pytest.mark.parametrize("text", INVISIBLE)
def test_other_required_texts_need_visible_characters(hr, manager, staff, other_manager, text):
    appraisal = open_appraisal(hr, staff)
    with pytest.raises(ValidationError) as error:
        workflow.reassign_appraiser(
            by=fresh(hr), appraisal=reload(appraisal), appraiser=other_manager.staff_member, reason=text
        )
    assert "reason" in field_errors(error.value)
    assert reload(appraisal).appraiser_id == manager.staff_member.pk

    shared = workflow.share(by=fresh(manager), appraisal=reload(rate(appraisal, manager)))
    with pytest.raises(ValidationError) as error:
        workflow.sign_off(by=fresh(staff), appraisal=reload(shared), agrees=False, comments=text)
    assert "comments" in field_errors(error.value)
    assert reload(appraisal).state == Appraisal.State.AWAITING_SIGN_OFF

    with pytest.raises(ValidationError) as error:
        cycles.create_cycle(
            by=fresh(hr),
            name=text,
            period_start=datetime.date(2030, 4, 1),
            period_end=datetime.date(2031, 3, 31),
            due_on=datetime.date(2031, 6, 30),
            self_assessment=False,
        )
    assert "name" in field_errors(error.value)

    with pytest.raises(ValidationError) as error:
        framework.create_competency(by=fresh(hr), name=text, relevance_to_recovery="Something.")
    assert "name" in field_errors(error.value)
    assert not Competency.objects.filter(name=text).exists()

    with pytest.raises(ValidationError) as error:
        role_services.create_role_profile(by=fresh(hr), title=text, slug="invisible")
    assert "title" in field_errors(error.value)


def test_an_override_with_an_invisible_reason_is_refused(hr, manager, staff):
    appraisal = reload(open_appraisal(hr, staff))
    scored = appraisal.competencies.first()
    with pytest.raises(ValidationError) as error:
        scoring.save_review(
            by=fresh(manager),
            appraisal=appraisal,
            revision=appraisal.revision,
            ratings={},
            overrides={scored.competency_id: (scored.entry_level, "\u200b\u200b")},
            measures={},
            meeting_date=None,
            objectives="",
            development_plan="",
            manager_comments="",
        )
    assert f"reason-{scored.competency_id}" in field_errors(error.value)
    assert reload(appraisal).revision == 1


def test_text_around_invisible_characters_is_kept_as_typed(hr, manager, staff):
    appraisal = complete(open_appraisal(hr, staff), manager=manager, staff=staff)
    workflow.reopen(by=fresh(hr), appraisal=reload(appraisal), reason="\u200bScored against the wrong role\u200b")
    assert reload(appraisal).events.last().comment == "Scored against the wrong role"


# --- names ----------------------------------------------------------------------------------------

SPOOFING_NAMES = [
    ("\u202eevaN", "right-to-left"),  # shown as "Nave" but sorted and searched as something else
    ("Sam\u2066 Taylor", "right-to-left"),
    ("\u200b\u200b", "Give the person's"),  # shows nothing, so it is no name at all
    ("\u3164", "Give the person's"),
    ("---", "letters"),
]


@pytest.mark.parametrize("name, message", SPOOFING_NAMES)
def test_a_name_that_spoofs_what_is_shown_is_refused(hr, name, message):
    with pytest.raises(ValidationError) as error:
        staff_records.create_staff_member(by=fresh(hr), first_name=name, last_name="Example", email="new@example.org")
    assert message in field_errors(error.value)["first_name"][0]
    with pytest.raises(ValidationError) as error:
        staff_records.create_staff_member(by=fresh(hr), first_name="New", last_name=name, email="new@example.org")
    assert message in field_errors(error.value)["last_name"][0]
    assert not StaffMember.objects.filter(user__email="new@example.org").exists()


@pytest.mark.parametrize("name, message", SPOOFING_NAMES)
def test_renaming_someone_to_a_spoofing_name_is_refused(hr, staff, name, message):
    member = staff.staff_member
    with pytest.raises(ValidationError) as error:
        staff_records.update_staff_details(
            by=fresh(hr),
            member=member,
            first_name=name,
            last_name="Example",
            email="staff@example.org",
            service=None,
            job_title="",
        )
    assert message in field_errors(error.value)["first_name"][0]
    assert StaffMember.objects.get(pk=member.pk).user.first_name == "Staff"


@pytest.mark.parametrize("name, message", SPOOFING_NAMES)
def test_an_import_row_with_a_spoofing_name_is_refused_in_the_preview(hr, name, message):
    preview = staff_imports.preview_import(
        "name,email,role_profile,line_manager,start_date\r\n"
        f"{name} Example,new@example.org,housing-worker,,2026-01-05\r\n"
        f"Alex {name},alex@example.org,housing-worker,,2026-01-05\r\n"
    )
    assert not preview.is_valid
    for row in preview.rows:
        assert any(message in error for error in row.errors), row.errors


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
def test_an_import_row_starting_on_an_absurd_date_is_refused_in_the_preview(hr, day):
    preview = staff_imports.preview_import(
        f"name,email,role_profile,line_manager,start_date\r\nAlex New,alex@example.org,housing-worker,,{day}\r\n"
    )
    assert not preview.is_valid
    assert any("between" in error for error in preview.rows[0].errors)


def test_names_in_other_scripts_and_with_accents_are_accepted(hr):
    names = [("Zoë", "O’Neill"), ("Nguyễn", "Thị"), ("محمد", "علي"), ("李", "小龙"), ("Anne-Marie", "St. John")]
    for number, (first, last) in enumerate(names):
        member = staff_records.create_staff_member(
            by=fresh(hr), first_name=first, last_name=last, email=f"person{number}@example.org"
        )
        assert member.name == f"{first} {last}"


# --- numbers too large for the database -----------------------------------------------------------

HUGE = "9" * 30


NON_NUMBERS = {"slug": "housing-worker", "direction": "up", "section": "accountabilities", "token": "a-token"}


def _numbered_routes():
    """(name, {keyword: converter regex}) of every URL pattern that takes a number."""

    def walk(patterns, converters=None):
        for pattern in patterns:
            found = {**(converters or {}), **pattern.pattern.converters}
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, found)
            elif isinstance(pattern, URLPattern):
                yield pattern.name, {key: converter.regex for key, converter in found.items()}

    for name, converters in walk(get_resolver().url_patterns):
        if "[0-9]+" in converters.values():
            yield name, converters


def test_a_number_too_large_for_the_database_in_an_address_is_not_found(client, hr):
    client.force_login(hr)
    routes = list(_numbered_routes())
    assert len(routes) > 20
    for name, converters in routes:
        kwargs = {key: HUGE if regex == "[0-9]+" else NON_NUMBERS[key] for key, regex in converters.items()}
        url = reverse(name, kwargs=kwargs)
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            assert response.status_code in (404, 405), f"{method.upper()} {url}: {response.status_code}"


@pytest.mark.parametrize(
    "name, query",
    [
        ("audit_log", "person"),
        ("audit_log", "page"),
        ("outcomes_csv", "cycle"),
        ("reports", "cycle"),
        ("reports", "service"),
        ("reports", "role"),
        ("report_standing", "cycle"),
        ("report_below_entry", "role"),
        ("team", "cycle"),
        ("staff_list", "service"),
        ("staff_list", "role_profile"),
    ],
)
def test_a_number_too_large_for_the_database_in_a_query_is_refused_or_ignored(client, hr, manager, staff, name, query):
    cycle = make_cycle(hr)
    cycles.open_cycle(by=fresh(hr), cycle=cycle)
    for user in (hr, manager):
        client.force_login(user)
        response = client.get(reverse(name) + f"?{query}={HUGE}")
        if response.streaming:
            body = b"".join(response.streaming_content)  # a download must not break off
        else:
            body = response.content
        assert response.status_code in (200, 400, 403, 404), (name, query, response.status_code)
        if name == "audit_log" and query == "person" and response.status_code == 200:
            assert "There is no such person" in response.content.decode()
        if response.status_code == 200 and response["Content-Type"].startswith("text/csv"):
            assert body.count(b"\n") == 1, "a filter that matches nothing gives the header alone"


def test_a_download_for_an_unknown_cycle_is_not_found(client, hr):
    client.force_login(hr)
    assert client.get(reverse("outcomes_csv") + "?cycle=424242").status_code == 404
    assert client.get(reverse("outcomes_csv") + "?cycle=not-a-number").status_code == 404


def test_other_numbers_too_large_for_the_database_are_refused(client, hr, manager, staff):
    appraisal = open_appraisal(hr, staff)
    client.force_login(manager)
    compare = reverse("role_profile_compare", args=["housing-worker"])
    assert client.get(f"{compare}?from={HUGE}&to=1").status_code == 404
    assert client.get(f"{compare}?from=1&to=-{HUGE}").status_code == 404
    before = snapshot()
    response = client.post(reverse("appraisal_share", args=[appraisal.pk]), {"revision": HUGE})
    assert response.status_code == 302  # back to the record, which says the record has moved on
    assert snapshot() == before


@pytest.mark.parametrize("text", ["\u034f", "\ufe0f", "\u17b4", "\u180b", "\U000e0100", "\ufff0", "\u0301\u0301"])
def test_marks_and_unassigned_characters_alone_are_no_reason(hr, manager, staff, text):
    appraisal = complete(open_appraisal(hr, staff), manager=manager, staff=staff)
    with pytest.raises(ValidationError) as error:
        workflow.reopen(by=fresh(hr), appraisal=reload(appraisal), reason=text)
    assert "reason" in field_errors(error.value)
    assert reload(appraisal).state == Appraisal.State.COMPLETED


def test_accents_and_marks_in_text_are_kept(hr, manager, staff):
    appraisal = complete(open_appraisal(hr, staff), manager=manager, staff=staff)
    workflow.reopen(
        by=fresh(hr), appraisal=reload(appraisal), reason="Café\u0301 scored against the wrong role \u2764\ufe0f"
    )
    assert reload(appraisal).events.last().comment == "Café\u0301 scored against the wrong role \u2764\ufe0f"


@pytest.mark.parametrize("query", ["object_type=%00", "object_id=7%00", "action=share%00", "person=%00"])
def test_a_nul_in_a_query_is_refused_not_a_database_error(client, hr, query):
    client.force_login(hr)
    response = client.get(reverse("audit_log") + "?" + query)
    assert response.status_code == 400
    assert "cannot hold" in response.content.decode()
