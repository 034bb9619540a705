"""A second factor for HR admins (and anyone who wants one): an HR admin's session has a member of staff's
rights until it has given a code from an authenticator app or a recovery code; setting one up takes a
first code; HR resets a lost one, or `create_hr_admin` when there is no other HR admin; all audited,
never with a secret or a code.

The rest of the suite runs without the requirement (tests/settings.py); here it is on."""

import datetime
import io
import time
from urllib.parse import urlencode

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.models import AuditEntry
from core.access import is_hr_admin
from staff import second_factor
from tests.conftest import PASSWORD, make_person

pytestmark = pytest.mark.django_db

SECRET = "JBSW Y3DP EHPK 3PXP"
STAFF_LINK = f'href="{reverse("staff_list")}">Staff</a>'
HR_PAGES = ["staff_list", "reports", "cycle_list", "audit_log", "email_log"]


@pytest.fixture(autouse=True)
def second_factor_required(settings):
    settings.HR_REQUIRES_SECOND_FACTOR = True


def code(device: TOTPDevice) -> str:
    """The code the person's app shows now (for a step not yet used: the app's next one, half a minute on)."""
    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    if totp.t() <= device.last_t:  # this half-minute's code is spent: as if the next half-minute had come
        TOTPDevice.objects.filter(pk=device.pk).update(last_t=totp.t() - 1)
    return f"{totp.token():0{device.digits}d}"


def wait_out_the_throttle(user) -> None:
    """As if the wait after wrong codes had passed (django-otp doubles it after each)."""
    earlier = timezone.now() - datetime.timedelta(hours=2)
    for model in (TOTPDevice, StaticDevice):
        model.objects.filter(user=user).update(throttling_failure_timestamp=earlier)


def sign_in(username: str) -> Client:
    """A password login through the login form, as a person makes it."""
    client = Client()
    response = client.post(reverse("login"), {"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.content.decode()[:500]
    return client


def verify_url(next_url: str) -> str:
    return f"{reverse('second_factor_verify')}?{urlencode({'next': next_url})}"


def audit_text() -> str:
    return str(list(AuditEntry.objects.values("action", "object_repr", "changes")))


def test_an_hr_admin_without_a_verified_second_factor_has_a_member_of_staff_s_rights(client, hr, staff):
    client.force_login(hr)  # a password login; this HR admin has no second factor yet
    for name in HR_PAGES:
        response = client.get(reverse(name))
        assert response.status_code == 302 and response.url == verify_url(reverse(name)), name
    # Verifying needs a device: they are sent to set one up, and come back afterwards.
    response = client.get(verify_url(reverse("staff_list")))
    assert response.url == f"{reverse('second_factor_enrol')}?{urlencode({'next': reverse('staff_list')})}"
    # An HR-only action is refused, and changes nothing.
    response = client.post(
        reverse("staff_set_password", args=[staff.staff_member.pk]),
        {"new_password1": "a-long-and-unusual-phrase", "new_password2": "a-long-and-unusual-phrase"},
    )
    assert response.status_code == 302 and response.url.startswith(reverse("second_factor_verify"))
    staff.refresh_from_db()
    assert staff.check_password(PASSWORD)
    # Records outside their own are outside their scope, as for any member of staff.
    assert client.get(reverse("person_history", args=[staff.staff_member.pk])).status_code == 404
    home = client.get(reverse("home")).content.decode()
    assert STAFF_LINK not in home and 'href="/reports/">Reports</a>' not in home
    assert "until you give your second factor" in home
    assert not is_hr_admin(client.get(reverse("home")).wsgi_request.user)


def test_an_hr_admin_sets_up_a_second_factor_confirmed_by_a_first_code_and_gets_hr_rights(client, hr):
    client.force_login(hr)
    page = client.get(f"{reverse('second_factor_enrol')}?next={reverse('staff_list')}")
    assert page.status_code == 200
    content = page.content.decode()
    device = TOTPDevice.objects.get(user=hr)
    assert not device.confirmed and not second_factor.has_second_factor(hr)
    assert (
        '<svg width="220" height="220" role="img"' in content
        and "<script" not in content.split("<main")[1].split("</main>")[0]
    )
    assert second_factor.secret(device) in content  # for typing into the app
    assert client.get(reverse("staff_list")).status_code == 302  # not counted until confirmed

    refused = client.post(reverse("second_factor_enrol"), {"code": "000000", "next": reverse("staff_list")})
    assert refused.status_code == 200 and "did not match" in refused.content.decode()
    device.refresh_from_db()
    assert not device.confirmed
    wait_out_the_throttle(hr)

    response = client.post(reverse("second_factor_enrol"), {"code": code(device), "next": reverse("staff_list")})
    assert response.status_code == 200
    codes = response.context["codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(recovery in response.content.decode() for recovery in codes)
    assert 'href="/staff/"' in response.content.decode()  # carries on where they were going
    device.refresh_from_db()
    assert device.confirmed
    assert client.get(reverse("staff_list")).status_code == 200
    assert STAFF_LINK in client.get(reverse("home")).content.decode()

    entry = AuditEntry.objects.get(action="set up second factor")
    assert entry.actor == hr and entry.person == hr.staff_member
    text = audit_text()
    assert device.key not in text and second_factor.secret(device).replace(" ", "") not in text.replace(" ", "")
    assert not any(recovery in text for recovery in codes)
    # Once set up, the set-up page does not show the secret again.
    again = client.get(reverse("second_factor_enrol"))
    assert again.status_code == 302 and again.url == reverse("second_factor")


def test_after_the_password_the_second_factor_comes_first_and_a_right_code_gives_hr_rights(hr):
    device = second_factor.set_device(user=hr, secret_text=SECRET)
    client = sign_in("hr")
    for page in ("home", "staff_list", "my_history", "second_factor"):
        response = client.get(reverse(page))
        assert response.status_code == 302 and response.url == verify_url(reverse(page)), page
    verify = client.get(verify_url(reverse("staff_list")))
    assert verify.status_code == 200 and 'autocomplete="one-time-code"' in verify.content.decode()

    wrong = client.post(reverse("second_factor_verify"), {"code": "123456", "next": reverse("staff_list")})
    assert wrong.status_code == 200 and "did not match" in wrong.content.decode()
    assert client.get(reverse("staff_list")).status_code == 302
    wait_out_the_throttle(hr)

    session_before = client.session.session_key
    right = client.post(reverse("second_factor_verify"), {"code": code(device), "next": reverse("staff_list")})
    assert right.status_code == 302 and right.url == reverse("staff_list")
    assert client.session.session_key != session_before  # more rights: a new session id
    assert client.get(reverse("staff_list")).status_code == 200
    assert STAFF_LINK in client.get(reverse("home")).content.decode()


def test_a_code_is_not_taken_twice_and_a_foreign_next_is_ignored(hr):
    device = second_factor.set_device(user=hr, secret_text=SECRET)
    first = sign_in("hr")
    used = code(device)
    response = first.post(reverse("second_factor_verify"), {"code": used, "next": "https://example.com/"})
    assert response.status_code == 302 and response.url == reverse("home")
    second = sign_in("hr")
    refused = second.post(reverse("second_factor_verify"), {"code": used})
    assert refused.status_code == 200 and "did not match" in refused.content.decode()


def test_wrong_codes_are_throttled_and_a_run_of_them_is_audited(hr):
    device = second_factor.set_device(user=hr, secret_text=SECRET)
    client = sign_in("hr")
    for _ in range(second_factor.FAILURES_AUDITED_EVERY):
        wait_out_the_throttle(hr)
        client.post(reverse("second_factor_verify"), {"code": "000000"})
    entry = AuditEntry.objects.get(action="second factor refused")
    assert entry.changes["wrong codes in a row"] == second_factor.FAILURES_AUDITED_EVERY
    # Straight after a wrong code even the right one is not checked.
    response = client.post(reverse("second_factor_verify"), {"code": code(device)})
    assert response.status_code == 200 and "Too many wrong codes" in response.content.decode()
    assert client.get(reverse("staff_list")).status_code == 302


def test_a_recovery_code_works_once(hr):
    device = second_factor.pending_device(hr)
    codes = second_factor.confirm_enrolment(user=hr, device=device, code=code(device))
    assert codes is not None
    client = sign_in("hr")
    response = client.post(reverse("second_factor_verify"), {"code": codes[0].upper(), "next": reverse("reports")})
    assert response.status_code == 302 and response.url == reverse("reports")
    assert client.get(reverse("reports")).status_code == 200
    entry = AuditEntry.objects.get(action="use recovery code")
    assert entry.changes == {"recovery codes left": 9}
    assert codes[0] not in audit_text()

    again = sign_in("hr")
    refused = again.post(reverse("second_factor_verify"), {"code": codes[0]})
    assert refused.status_code == 200 and "did not match" in refused.content.decode()
    assert again.get(reverse("reports")).status_code == 302


def test_new_recovery_codes_replace_the_old_ones_and_need_a_verified_session(hr):
    device = second_factor.pending_device(hr)
    old = second_factor.confirm_enrolment(user=hr, device=device, code=code(device))
    assert old is not None
    client = sign_in("hr")
    unverified = client.post(reverse("second_factor_recovery_codes"))
    assert unverified.status_code == 302 and unverified.url.startswith(reverse("second_factor_verify"))
    client.post(reverse("second_factor_verify"), {"code": code(device)})
    response = client.post(reverse("second_factor_recovery_codes"))
    new = response.context["codes"]
    assert len(new) == 10 and not set(new) & set(old)
    assert AuditEntry.objects.filter(action="new recovery codes", actor=hr).count() == 1
    refused = sign_in("hr").post(reverse("second_factor_verify"), {"code": old[1]})
    assert refused.status_code == 200


def test_anyone_may_turn_it_on_and_is_then_asked_for_it_at_sign_in(staff):
    client = Client()
    client.force_login(staff)
    assert "It is <strong>off</strong>" in client.get(reverse("second_factor")).content.decode()
    client.get(reverse("second_factor_enrol"))
    device = TOTPDevice.objects.get(user=staff)
    response = client.post(reverse("second_factor_enrol"), {"code": code(device)})
    assert response.status_code == 200 and len(response.context["codes"]) == 10
    assert "It is <strong>on</strong>" in client.get(reverse("second_factor")).content.decode()
    later = sign_in("staff")
    assert later.get(reverse("my_history")).url == verify_url(reverse("my_history"))
    later.post(reverse("second_factor_verify"), {"code": code(device)})
    assert later.get(reverse("my_history")).status_code == 200
    assert later.get(reverse("staff_list")).status_code == 403  # a second factor gives no HR rights


def test_another_hr_admin_resets_a_lost_second_factor_after_confirming(hr):
    device = second_factor.set_device(user=hr, secret_text=SECRET)
    lost = sign_in("hr")
    lost.post(reverse("second_factor_verify"), {"code": code(device)})
    assert lost.get(reverse("staff_list")).status_code == 200
    other = make_person("other_hr", role=None, hr=True)
    other_device = second_factor.set_device(user=other, secret_text="MFRGGZDFMZTWQ2LK")
    helper = sign_in("other_hr")
    helper.post(reverse("second_factor_verify"), {"code": code(other_device)})

    detail = helper.get(reverse("staff_detail", args=[hr.staff_member.pk])).content.decode()
    url = reverse("staff_reset_second_factor", args=[hr.staff_member.pk])
    assert url in detail and "On (authenticator app)" in detail
    confirm = helper.post(url)
    assert confirm.status_code == 200 and "Reset Hr Example&#x27;s second factor?" in confirm.content.decode()
    assert TOTPDevice.objects.filter(user=hr).exists()
    response = helper.post(url, {"confirmed": "1"})
    assert response.status_code == 302 and response.url == reverse("staff_detail", args=[hr.staff_member.pk])
    assert not TOTPDevice.objects.filter(user=hr).exists() and not StaticDevice.objects.filter(user=hr).exists()
    entry = AuditEntry.objects.get(action="reset second factor")
    assert (entry.actor, entry.person) == (other, hr.staff_member)
    # The session verified with the lost device has staff rights again; setting up a new one is open.
    assert lost.get(reverse("staff_list")).url == verify_url(reverse("staff_list"))
    assert lost.get(reverse("second_factor_enrol")).status_code == 200


def test_an_hr_admin_cannot_reset_their_own_second_factor_nor_a_member_of_staff(hr, staff):
    device = second_factor.set_device(user=hr, secret_text=SECRET)
    client = sign_in("hr")
    client.post(reverse("second_factor_verify"), {"code": code(device)})
    own = client.post(reverse("staff_reset_second_factor", args=[hr.staff_member.pk]), {"confirmed": "1"})
    assert own.status_code == 403 and TOTPDevice.objects.filter(user=hr).exists()
    staff_device = second_factor.set_device(user=staff, secret_text="MFRGGZDFMZTWQ2LK")
    by_staff = sign_in("staff")
    by_staff.post(reverse("second_factor_verify"), {"code": code(staff_device)})
    refused = by_staff.post(reverse("staff_reset_second_factor", args=[hr.staff_member.pk]), {"confirmed": "1"})
    assert refused.status_code == 403 and TOTPDevice.objects.filter(user=hr).exists()
    assert not AuditEntry.objects.filter(action="reset second factor").exists()


def test_the_command_resets_the_second_factor_when_there_is_no_other_hr_admin(hr):
    second_factor.set_device(user=hr, secret_text=SECRET)
    out = io.StringIO()
    call_command("create_hr_admin", "hr", "--reset-second-factor", stdout=out)
    assert "second factor was reset" in out.getvalue()
    assert not TOTPDevice.objects.filter(user=hr).exists()
    entry = AuditEntry.objects.get(action="reset second factor")
    assert entry.actor is None and entry.person == hr.staff_member
    out = io.StringIO()
    call_command("create_hr_admin", "hr", "--reset-second-factor", stdout=out)
    assert "nothing to reset" in out.getvalue()
    with pytest.raises(CommandError, match="no login named"):
        call_command("create_hr_admin", "nobody", "--reset-second-factor", stdout=io.StringIO())


@pytest.mark.parametrize("name", HR_PAGES)
def test_hr_pages_with_the_requirement_on(name, hr, staff):
    """As the permission matrix, with the requirement on: an HR admin verified, one not, and staff."""
    device = second_factor.set_device(user=hr, secret_text=SECRET)
    verified = sign_in("hr")
    verified.post(reverse("second_factor_verify"), {"code": code(device)})
    unverified = Client()
    unverified.force_login(hr)  # the password given, not the code
    staff_client = Client()
    staff_client.force_login(staff)
    anonymous = Client()
    url = reverse(name)
    assert verified.get(url).status_code == 200
    response = unverified.get(url)
    assert response.status_code == 302 and response.url == verify_url(url)
    assert staff_client.get(url).status_code == 403
    assert anonymous.get(url).url.startswith(reverse("login"))


def test_with_the_requirement_off_the_group_is_the_whole_grant(settings, client, hr):
    settings.HR_REQUIRES_SECOND_FACTOR = False
    client.force_login(hr)
    assert client.get(reverse("staff_list")).status_code == 200
