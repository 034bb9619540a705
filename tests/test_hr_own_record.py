"""An HR admin's own appraisal, and those of the people above them, are not theirs to oversee.

On their own record, and on the records of everyone above them in line management, an HR admin has
only the rights of the person: the record and its PDF as its owner sees them (or not at all, for the
people above), no history of the people above, nothing of them in reports, CSVs or the audit trail,
and no change to those staff records or appraisals. Another HR admin does those.
"""

import csv
import io

import pytest
from django.test import Client
from django.urls import reverse

from appraisal.models import Appraisal
from appraisal.permissions import NotAllowed
from appraisal.services import cycles, workflow
from audit.models import AuditEntry
from staff.models import StaffMember
from tests.appraisals import complete, fresh, make_cycle, rate, reload
from tests.conftest import make_person
from tests.snapshots import snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def line():
    """head → boss → helen (an HR admin with a role and a line manager) → junior; a second HR admin."""
    head = make_person("head", role="senior-service-coordinator-afeo", service="Head office")
    boss = make_person("boss", role="senior-service-coordinator-afeo", manager=head, service="Head office")
    helen = make_person("helen", role="housing-worker", manager=boss, hr=True, service="Head office")
    junior = make_person("junior", manager=helen, service="Head office")
    other_hr = make_person("other_hr", role=None, hr=True)
    cycle = make_cycle(other_hr)
    cycles.open_cycle(by=fresh(other_hr), cycle=cycle)
    appraisals = {
        user.username: Appraisal.objects.get(cycle=cycle, staff_member__user=user) for user in (boss, helen, junior)
    }
    # Helen's own appraisal: scored by her manager, with draft comments not yet shared with her.
    rate(appraisals["helen"], boss, rating="not_yet", manager_comments="Draft: Helen's sickness record worries me.")
    # Her boss's appraisal is completed, below entry in every competency.
    complete(appraisals["boss"], manager=head, staff=boss, rating="not_yet")
    return {
        "head": head,
        "boss": boss,
        "helen": helen,
        "junior": junior,
        "other_hr": other_hr,
        "cycle": cycle,
        "appraisals": appraisals,
    }


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_an_hr_admin_sees_their_own_appraisal_only_as_its_owner(line):
    helen, own = client_for(line["helen"]), line["appraisals"]["helen"]
    page = helen.get(reverse("appraisal", args=[own.pk]))
    assert page.status_code == 200
    assert "sickness record" not in page.content.decode()  # the manager's unshared draft
    assert helen.get(reverse("appraisal_pdf", args=[own.pk])).status_code == 403  # not shared yet
    assert helen.get(reverse("appraisal_review", args=[own.pk])).status_code == 403
    # Another HR admin sees the draft, as HR admins do.
    assert "sickness record" in client_for(line["other_hr"]).get(reverse("appraisal", args=[own.pk])).content.decode()


def test_an_hr_admin_cannot_reopen_or_reassign_their_own_appraisal(line):
    helen, own = client_for(line["helen"]), line["appraisals"]["helen"]
    before = snapshot()
    for name in ("appraisal_reassign", "appraisal_reopen"):
        assert helen.get(reverse(name, args=[own.pk])).status_code == 403
    response = helen.post(
        reverse("appraisal_reassign", args=[own.pk]), {"appraiser": line["junior"].staff_member.pk, "reason": "Easier"}
    )
    assert response.status_code == 403
    assert "another HR admin" in response.content.decode()
    assert snapshot() == before
    with pytest.raises(NotAllowed):
        workflow.reassign_appraiser(
            by=fresh(line["helen"]), appraisal=reload(own), appraiser=line["junior"].staff_member, reason="Easier"
        )
    # Another HR admin can.
    workflow.reassign_appraiser(
        by=fresh(line["other_hr"]), appraisal=reload(own), appraiser=line["head"].staff_member, reason="Boss on leave"
    )
    assert reload(own).appraiser_id == line["head"].staff_member.pk


def test_an_hr_admin_cannot_reopen_their_own_completed_record(line):
    own = complete(line["appraisals"]["helen"], manager=line["boss"], staff=line["helen"])
    with pytest.raises(NotAllowed):
        workflow.reopen(by=fresh(line["helen"]), appraisal=reload(own), reason="I disagree")
    assert reload(own).state == Appraisal.State.COMPLETED
    assert (
        client_for(line["helen"])
        .post(reverse("appraisal_reopen", args=[own.pk]), {"reason": "I disagree", "revision": reload(own).revision})
        .status_code
        == 403
    )


def test_the_records_of_the_people_above_an_hr_admin_do_not_exist_for_them(line):
    helen = client_for(line["helen"])
    boss_record = line["appraisals"]["boss"]
    for name, pk in [
        ("appraisal", boss_record.pk),
        ("appraisal_pdf", boss_record.pk),
        ("appraisal_reopen", boss_record.pk),
        ("person_history", line["boss"].staff_member.pk),
        ("person_history_pdf", line["boss"].staff_member.pk),
        ("person_history", line["head"].staff_member.pk),
    ]:
        assert helen.get(reverse(name, args=[pk])).status_code == 404, name
    # Below her, HR's rights are whole.
    assert helen.get(reverse("appraisal", args=[line["appraisals"]["junior"].pk])).status_code == 200


def test_reports_and_downloads_leave_out_an_hr_admins_own_record_and_those_above(line):
    helen, other_hr = client_for(line["helen"]), client_for(line["other_hr"])
    cycle = line["cycle"]
    for client, sees_boss in ((helen, False), (other_hr, True)):
        body = b"".join(client.get(reverse("outcomes_csv") + f"?cycle={cycle.pk}").streaming_content).decode()
        people = {row["username"] for row in csv.DictReader(io.StringIO(body))}
        assert ("boss" in people) is sees_boss and ("helen" in people) is sees_boss
        below = client.get(reverse("report_below_entry") + f"?cycle={cycle.pk}").content.decode()
        assert ("boss" in below) is sees_boss
        page = client.get(reverse("reports") + f"?cycle={cycle.pk}").content.decode()
        assert ("Boss Example" in page) is sees_boss
        # By manager: an appraiser of none but the records left out is not listed, on the page (whose pages
        # are counted in the database) or in the download.
        by_manager = client.get(reverse("reports") + f"?cycle={cycle.pk}").context["by_manager"]
        managers = client.get(reverse("report_progress_by_manager") + f"?cycle={cycle.pk}").content.decode()
        listed = {row["manager"] for row in csv.DictReader(io.StringIO(managers))}
        expected = ["Boss Example", "Head Example", "Helen Example"] if sees_boss else ["Helen Example"]
        assert [label for label, _counts in by_manager] == expected and sorted(listed) == expected
        assert by_manager.paginator.count == len(expected)
    assert "Not included" in helen.get(reverse("reports") + f"?cycle={cycle.pk}").content.decode()


def test_the_audit_trail_leaves_out_an_hr_admins_own_record_and_those_above(line):
    helen = client_for(line["helen"])
    own = line["appraisals"]["helen"]
    assert AuditEntry.objects.filter(person=line["helen"].staff_member, action="save review").exists()
    page = helen.get(reverse("audit_log") + f"?person={line['helen'].staff_member.pk}").content.decode()
    assert "sickness record" not in page and f"/appraisals/{own.pk}/" not in page
    everything = helen.get(reverse("audit_log")).content.decode()
    assert "sickness record" not in everything
    for person in ("helen", "boss"):
        detail = helen.get(reverse("staff_detail", args=[line[person].staff_member.pk])).content.decode()
        assert "sickness record" not in detail and "save review" not in detail
    assert "sickness record" in client_for(line["other_hr"]).get(reverse("audit_log")).content.decode()


def test_an_hr_admin_cannot_change_their_own_staff_record_or_those_above_them(line):
    helen = client_for(line["helen"])
    before = snapshot()
    for person in ("helen", "boss", "head"):
        pk = line[person].staff_member.pk
        assert (
            helen.post(reverse("staff_assign_manager", args=[pk]), {"manager": "", "since": "2026-01-01"}).status_code
            == 403
        )
        assert (
            helen.post(
                reverse("staff_set_password", args=[pk]),
                {"new_password1": "a-long-new-phrase", "new_password2": "a-long-new-phrase"},
            ).status_code
            == 403
        )
        assert helen.post(reverse("staff_mark_leaver", args=[pk]), {"left_on": "2026-01-01"}).status_code == 403
        assert helen.get(reverse("staff_edit", args=[pk])).status_code == 403
    assert snapshot() == before
    # Someone below her is hers to change.
    response = helen.post(
        reverse("staff_edit", args=[line["junior"].staff_member.pk]),
        {"first_name": "Junior", "last_name": "Renamed", "email": "junior@example.org", "job_title": ""},
    )
    assert response.status_code == 302
    assert StaffMember.objects.get(pk=line["junior"].staff_member.pk).user.last_name == "Renamed"


def test_the_cycle_page_leaves_out_the_people_above_an_hr_admin(line):
    page = client_for(line["helen"]).get(reverse("cycle_detail", args=[line["cycle"].pk])).content.decode()
    assert "Boss Example" not in page
    assert "Junior Example" in page
