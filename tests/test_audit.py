"""Every change is in the audit trail, which HR admins can read and nobody can change."""

import datetime

import pytest
from django.urls import reverse

from audit.models import AuditEntry
from roles import services
from roles.models import RoleProfile

pytestmark = pytest.mark.django_db


@pytest.fixture
def published(hr):
    draft = services.start_draft(by=hr, role_profile=RoleProfile.objects.get(slug="housing-worker"))
    services.update_details(by=hr, version=draft, purpose="A new purpose.")
    return services.publish(by=hr, version=draft, note="Purpose reworded.", document_date=datetime.date(2026, 11, 1))


def test_create_edit_and_publish_are_recorded_with_who_when_and_what(hr, published):
    entries = list(AuditEntry.objects.filter(object_type="role profile").order_by("pk"))
    assert [e.action for e in entries] == ["start draft", "edit", "publish"]
    assert all(e.actor == hr and e.at is not None for e in entries)
    assert entries[1].changes["purpose"][1] == "A new purpose."
    assert entries[2].changes["version"] == [1, 2]


def test_hr_admins_read_and_filter_the_trail(client, hr, published, django_assert_max_num_queries):
    client.force_login(hr)
    with django_assert_max_num_queries(12):
        page = client.get(reverse("audit_log")).content.decode()
    assert "A new purpose." in page and "publish" in page
    filtered = client.get(reverse("audit_log"), {"action": "publish"})
    assert [e.action for e in filtered.context["page"]] == ["publish"]
    by_record = client.get(reverse("audit_log"), {"object_type": "role profile", "object_id": str(published.pk)})
    assert len(by_record.context["page"]) == 3


@pytest.mark.parametrize("who", ["staff", "manager"])
def test_others_cannot_read_the_trail(client, request, who, published):
    client.force_login(request.getfixturevalue(who))
    assert client.get(reverse("audit_log")).status_code == 403


def test_the_application_offers_no_way_to_change_or_delete_entries(client, hr, published):
    from django.urls import get_resolver

    client.force_login(hr)
    count = AuditEntry.objects.count()
    entry = AuditEntry.objects.first()
    assert client.post(reverse("audit_log"), {"action": "x"}).status_code == 405
    for url in [
        f"/admin/appraisal/auditentry/{entry.pk}/change/",
        f"/admin/appraisal/auditentry/{entry.pk}/delete/",
        "/admin/appraisal/auditentry/add/",
    ]:
        response = client.post(url, {"post": "yes", "action": "edited"})
        assert response.status_code in (403, 302, 404)  # 404: there is no back office
    entry.refresh_from_db()
    assert AuditEntry.objects.count() == count and entry.action != "edited"
    names = [p.name for p in get_resolver().url_patterns if getattr(p, "name", None)]
    assert not [name for name in names if "audit" in name and name != "audit_log"]


def test_the_page_links_keep_filters_that_need_encoding_and_system_entries_show(client, hr, published):
    from audit.models import AuditEntry as Entry

    Entry.objects.bulk_create(
        [Entry(action="edit", object_type="role profile", object_id="a&b c", object_repr="x") for _ in range(60)]
    )
    client.force_login(hr)
    page = client.get(reverse("audit_log"), {"object_id": "a&b c"}).content.decode()
    assert "object_id=a%26b+c&amp;page=2" in page
    assert "The system" in page  # entries written by commands have no actor
