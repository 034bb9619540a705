"""Single sign-on (staff/sso.py), end to end against a real OpenID Connect provider the tests start on
127.0.0.1 (tests/oidc_provider/, the `oidc_provider` fixture): the app's start page sends the test
client to the provider, whose login form the provider's helper fills in as a browser would; the
provider sends it back to the app's callback with a code, which the app exchanges at the provider's
token endpoint over HTTP and checks against the provider's published keys.

The provider's people persist from test to test, so each test signs in people of its own.
"""

import datetime
import os
import socket
import subprocess
import sys
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEntry
from outbox.models import Email
from staff import invitations, sso
from staff.models import SingleSignOnIdentity, StaffMember, user_can_sign_in
from tests.conftest import PASSWORD, make_person

PROVIDER_PASSWORD = "provider-pass-phrase"

pytestmark = pytest.mark.django_db


@pytest.fixture
def sso_on(settings, oidc_provider):
    """The app trusting the test provider: its issuer, and the client the provider was started with."""
    settings.SSO_ISSUER = oidc_provider.issuer
    settings.SSO_CLIENT_ID = oidc_provider.client_id
    settings.SSO_CLIENT_SECRET = oidc_provider.client_secret
    settings.SSO_PROVIDER_NAME = "Test Provider"
    settings.SSO_DISCOVERY_URL = ""
    settings.SSO_HOSTED_DOMAIN = ""
    settings.SSO_ONLY = False
    return oidc_provider


def person(username: str, email: str, **kwargs) -> StaffMember:
    user = make_person(username, **kwargs)
    user.email = email
    user.save(update_fields=["email"])
    return user.staff_member


def single_sign_on(client: Client, provider, username: str, *, next_url: str = ""):
    """Sign in at the provider as `username` from the app's start page; the app's answer to the callback."""
    start = client.get(reverse("sso_start") + (f"?next={next_url}" if next_url else ""))
    assert start.status_code == 302, start.content[:500]
    assert start["Location"].startswith(provider.authorization_endpoint)
    callback = provider.sign_in(start["Location"], username, PROVIDER_PASSWORD)
    assert callback.startswith("http://testserver/accounts/sso/callback/?")
    return client.get(callback.removeprefix("http://testserver"))


def signed_in_as(client: Client):
    user_id = client.session.get("_auth_user_id")
    return get_user_model().objects.get(pk=user_id) if user_id else None


def actions(member: StaffMember | None = None) -> list[str]:
    entries = AuditEntry.objects.order_by("pk")
    if member is not None:
        entries = entries.filter(person=member)
    return list(entries.values_list("action", flat=True))


def refusals() -> list[dict]:
    return [entry.changes for entry in AuditEntry.objects.filter(action=sso.REFUSED).order_by("pk")]


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_login_page_offers_single_sign_on_only_when_it_is_set_up(client, settings, oidc_provider):
    assert "Sign in with" not in client.get(reverse("login")).content.decode()
    assert client.get(reverse("sso_start")).status_code == 404
    settings.SSO_ISSUER, settings.SSO_CLIENT_ID, settings.SSO_CLIENT_SECRET = oidc_provider.issuer, "a", "b"
    settings.SSO_PROVIDER_NAME = "Microsoft"
    page = client.get(reverse("login") + "?next=/team/").content.decode()
    assert 'href="/accounts/sso/start/?next=/team/">Sign in with Microsoft</a>' in page
    assert 'name="password"' in page  # passwords still work for everyone


def test_a_first_sign_in_finds_the_person_by_email_binds_them_and_later_ones_use_the_binding(client, sso_on):
    member = person("sso_ada", "ada@example.org")
    sub = sso_on.set_user("ada", password=PROVIDER_PASSWORD, email="Ada@Example.org", first_name="Ada")

    response = single_sign_on(client, sso_on, "ada", next_url="/my/history/")

    assert response.status_code == 302 and response["Location"] == "/my/history/"
    assert signed_in_as(client) == member.user
    identity = SingleSignOnIdentity.objects.get(user=member.user)
    assert (identity.issuer, identity.subject, identity.email) == (sso_on.issuer, sub, "Ada@Example.org")
    assert actions(member) == [sso.BOUND, sso.SIGNED_IN]
    assert client.get("/my/history/").status_code == 200
    # A session made by single sign-on is checked on every request as any other: leaving ends it.
    member.left_on = timezone.localdate() - datetime.timedelta(days=1)
    member.save(update_fields=["left_on"])
    assert client.get("/my/history/").status_code == 302
    member.left_on = None
    member.save(update_fields=["left_on"])

    # The address changes at the provider (the record here keeps the old one): the binding finds her.
    sso_on.set_user("ada", password=PROVIDER_PASSWORD, email="ada.lovelace@example.org", first_name="Ada")
    other = Client()
    response = single_sign_on(other, sso_on, "ada")
    assert response.status_code == 302 and response["Location"] == reverse("home")
    assert signed_in_as(other) == member.user
    identity.refresh_from_db()
    assert identity.subject == sub and identity.email == "ada.lovelace@example.org"
    assert SingleSignOnIdentity.objects.count() == 1
    edit = AuditEntry.objects.filter(person=member, action="edit").get()
    assert edit.changes == {"email at the provider": ["Ada@Example.org", "ada.lovelace@example.org"]}
    assert actions(member)[-1] == sso.SIGNED_IN and not refusals()


def test_an_address_changed_at_the_provider_does_not_open_someone_else_s_account(client, sso_on):
    bea = person("sso_bea", "bea@example.org")
    cal = person("sso_cal", "cal@example.org")
    sso_on.set_user("bea", password=PROVIDER_PASSWORD, email="bea@example.org")
    sso_on.set_user("cal", password=PROVIDER_PASSWORD, email="cal@example.org")
    single_sign_on(Client(), sso_on, "bea")
    single_sign_on(Client(), sso_on, "cal")
    assert SingleSignOnIdentity.objects.count() == 2

    # Bea, bound, takes Cal's address at the provider: she is still Bea here.
    sso_on.set_user("bea", password=PROVIDER_PASSWORD, email="cal@example.org")
    bea_client = Client()
    single_sign_on(bea_client, sso_on, "bea")
    assert signed_in_as(bea_client) == bea.user

    # Someone new at the provider takes Cal's address: Cal's account is bound to Cal's subject, so no.
    sso_on.set_user("mallory", password=PROVIDER_PASSWORD, email="cal@example.org")
    response = single_sign_on(client, sso_on, "mallory")
    assert response.status_code == 403
    assert signed_in_as(client) is None
    assert "already signs in with a different Test Provider account" in response.content.decode()
    assert refusals()[-1]["reason"] == str(sso.Refusal.BOUND_ELSEWHERE)
    assert SingleSignOnIdentity.objects.filter(user=cal.user).count() == 1


def test_someone_the_provider_knows_and_the_organisation_does_not_is_refused_and_nobody_is_created(client, sso_on):
    person("sso_dan", "dan@example.org")
    users = get_user_model().objects.count()
    sso_on.set_user("stranger", password=PROVIDER_PASSWORD, email="stranger@elsewhere.example")

    response = single_sign_on(client, sso_on, "stranger")

    assert response.status_code == 403
    page = response.content.decode()
    assert "Your account is not known here" in page and "stranger@elsewhere.example" in page
    assert signed_in_as(client) is None
    assert get_user_model().objects.count() == users and not SingleSignOnIdentity.objects.exists()
    entry = AuditEntry.objects.get(action=sso.REFUSED)
    assert entry.changes == {"reason": "unknown person"} and "stranger@elsewhere.example" in entry.object_repr


def test_an_address_the_provider_has_not_verified_finds_nobody(client, sso_on):
    person("sso_una", "una@example.org")
    sso_on.set_user("una", password=PROVIDER_PASSWORD, email="una@example.org", email_verified=False)

    response = single_sign_on(client, sso_on, "una")

    assert response.status_code == 403 and signed_in_as(client) is None
    assert "has not confirmed that <strong>una@example.org</strong> is your address" in response.content.decode()
    assert refusals() == [{"reason": "unverified email"}] and not SingleSignOnIdentity.objects.exists()


def test_a_token_from_another_issuer_is_refused(client, sso_on, settings):
    """The app trusts one issuer (an organisation's tenant); the provider it is sent to issues as another."""
    person("sso_eve", "eve@example.org")
    sso_on.set_user("eve", password=PROVIDER_PASSWORD, email="eve@example.org")
    settings.SSO_DISCOVERY_URL = sso_on.discovery_url
    settings.SSO_ISSUER = sso_on.issuer + "/another-tenant"

    response = single_sign_on(client, sso_on, "eve")

    assert response.status_code == 403
    assert "does not belong to this organisation" in response.content.decode()
    assert signed_in_as(client) is None and not SingleSignOnIdentity.objects.exists()
    assert refusals() == [{"reason": "wrong issuer", "detail": f"issued by {sso_on.issuer!r}"}]


def test_a_google_workspace_domain_is_checked(client, sso_on, settings):
    person("sso_fay", "fay@example.org")
    sso_on.set_user("fay", password=PROVIDER_PASSWORD, email="fay@example.org")
    settings.SSO_HOSTED_DOMAIN = "example.org"  # the provider gives no `hd`: not a Workspace account of it

    response = single_sign_on(client, sso_on, "fay")

    assert response.status_code == 403 and signed_in_as(client) is None
    assert refusals()[-1]["reason"] == "wrong domain"


def test_a_leaver_cannot_sign_in_by_single_sign_on(client, sso_on):
    member = person("sso_gus", "gus@example.org")
    sso_on.set_user("gus", password=PROVIDER_PASSWORD, email="gus@example.org")
    single_sign_on(Client(), sso_on, "gus")  # bound while he worked here
    member.left_on = timezone.localdate() - datetime.timedelta(days=2)
    member.save(update_fields=["left_on"])

    response = single_sign_on(client, sso_on, "gus")

    assert response.status_code == 403 and signed_in_as(client) is None
    assert "Your access ended after your last day of employment" in response.content.decode()
    assert refusals()[-1] == {"reason": "left", "detail": response.context["detail"]}
    assert actions(member)[-1] == sso.REFUSED


def test_the_provider_down_is_a_page_that_says_so(client, sso_on, settings):
    person("sso_hal", "hal@example.org")
    sso_on.set_user("hal", password=PROVIDER_PASSWORD, email="hal@example.org")
    audit_entries = AuditEntry.objects.count()

    # Down before the sign-in starts: its discovery document cannot be read.
    settings.SSO_DISCOVERY_URL = f"http://127.0.0.1:{closed_port()}/.well-known/openid-configuration"
    response = client.get(reverse("sso_start"))
    assert response.status_code == 503
    assert "Test Provider is not answering" in response.content.decode()

    # Down between the sign-in at the provider and the code's exchange at its token endpoint.
    settings.SSO_DISCOVERY_URL = ""
    start = client.get(reverse("sso_start"))
    callback = sso_on.sign_in(start["Location"], "hal", PROVIDER_PASSWORD)
    config = sso.provider()
    found = sso.endpoints(config)
    cache.set(
        f"sso-discovery:{config.discovery_url}",
        {**found.__dict__, "token": f"http://127.0.0.1:{closed_port()}/openid/token"},
    )
    response = client.get(callback.removeprefix("http://testserver"))
    assert response.status_code == 503 and signed_in_as(client) is None
    assert "could not reach Test Provider" in response.content.decode()
    assert AuditEntry.objects.count() == audit_entries and not SingleSignOnIdentity.objects.exists()


def test_a_callback_is_used_once_and_a_cancelled_sign_in_is_a_page(client, sso_on):
    member = person("sso_ida", "ida@example.org")
    sso_on.set_user("ida", password=PROVIDER_PASSWORD, email="ida@example.org")
    start = client.get(reverse("sso_start"))
    callback = sso_on.sign_in(start["Location"], "ida", PROVIDER_PASSWORD).removeprefix("http://testserver")
    assert client.get(callback).status_code == 302
    client.logout()
    replayed = client.get(callback)
    assert replayed.status_code == 400 and signed_in_as(client) is None
    assert "This sign-in has expired" in replayed.content.decode()

    start = client.get(reverse("sso_start"))
    state = start["Location"].split("state=")[1].split("&")[0]
    cancelled = client.get(reverse("sso_callback"), {"state": state, "error": "access_denied"})
    assert cancelled.status_code == 403 and "The sign-in did not finish" in cancelled.content.decode()
    assert refusals()[-1] == {"reason": "provider error", "detail": "access_denied"}
    # An error this browser did not start a sign-in for is the expired page, and writes nothing.
    entries = AuditEntry.objects.count()
    forged = client.get(reverse("sso_callback"), {"state": "forged", "error": "access_denied"})
    assert forged.status_code == 400 and AuditEntry.objects.count() == entries
    assert actions(member) == [sso.BOUND, sso.SIGNED_IN]


def test_an_hr_admin_s_single_sign_on_counts_as_a_second_factor_only_when_the_token_says_so(settings, sso_on):
    settings.HR_REQUIRES_SECOND_FACTOR = True
    hr_member = person("sso_jo", "jo@example.org", role=None, hr=True)
    staff_list = reverse("staff_list")

    sso_on.set_user("jo", password=PROVIDER_PASSWORD, email="jo@example.org", mfa=True)
    with_mfa = Client()
    single_sign_on(with_mfa, sso_on, "jo")
    assert with_mfa.get(staff_list).status_code == 200
    assert AuditEntry.objects.filter(action=sso.SIGNED_IN).last().changes == {"multi-factor at the provider": True}

    sso_on.set_user("jo", password=PROVIDER_PASSWORD, email="jo@example.org", mfa=False)
    without = Client()
    single_sign_on(without, sso_on, "jo")
    response = without.get(staff_list)
    assert response.status_code == 302 and response["Location"].startswith(reverse("second_factor_verify"))
    assert signed_in_as(without) == hr_member.user


def test_with_single_sign_on_the_only_way_in_passwords_are_for_hr_admins(client, settings, sso_on):
    settings.SSO_ONLY = True
    person("sso_kim", "kim@example.org")
    person("sso_lee", "lee@example.org", role=None, hr=True)
    page = client.get(reverse("login")).content.decode()
    assert "HR admins: sign in with a password" in page
    kim, lee = StaffMember.objects.get(user__username="sso_kim"), StaffMember.objects.get(user__username="sso_lee")
    assert (invitations.access_of(kim).state, invitations.access_of(lee).state) == ("sso", "active")
    listed = {
        member.pk: invitations.access_of(member).state for member in invitations.with_access(StaffMember.objects.all())
    }
    assert (listed[kim.pk], listed[lee.pk]) == ("sso", "active")  # kim's password is refused; lee's is not

    refused = client.post(reverse("login"), {"username": "sso_kim", "password": PASSWORD})
    assert refused.status_code == 200 and signed_in_as(client) is None
    assert "passwords here are for HR admins only" in refused.content.decode()
    wrong = client.post(reverse("login"), {"username": "sso_kim", "password": "not-it"})
    assert "passwords here are for HR admins only" not in wrong.content.decode()  # a stranger learns nothing

    assert client.post(reverse("login"), {"username": "sso_lee", "password": PASSWORD}).status_code == 302
    assert signed_in_as(client).username == "sso_lee"
    client.logout()

    # "Forgot password?" sends HR admins a link, and nobody else (the page is the same for both).
    for username in ("sso_kim", "sso_lee"):
        assert client.post(reverse("password_reset"), {"login": username}).status_code == 302
    assert list(Email.objects.values_list("recipients", flat=True)) == ["lee@example.org"]
    # Nor is anyone given a password to set: someone without an address needs one for single sign-on.
    no_address = person("sso_ola", "")
    no_address.user.set_unusable_password()
    no_address.user.save()
    assert "single sign-on is the only way in" in invitations.refusal(no_address, kind="code")


def test_with_single_sign_on_anyone_with_an_address_can_sign_in_and_hr_can_unlink_a_replaced_account(
    client, settings, sso_on
):
    settings.HR_REQUIRES_SECOND_FACTOR = False
    member = person("sso_max", "max@example.org")
    member.user.set_unusable_password()
    member.user.save()
    nobody = person("sso_ned", "")
    nobody.user.set_unusable_password()
    nobody.user.save()
    assert user_can_sign_in(member.user) and not user_can_sign_in(nobody.user)
    assert StaffMember.objects.able_to_sign_in().filter(pk__in=[member.pk, nobody.pk]).get() == member
    settings.SSO_ISSUER = ""
    assert not user_can_sign_in(member.user)
    settings.SSO_ISSUER = sso_on.issuer

    sso_on.set_user("max", password=PROVIDER_PASSWORD, email="max@example.org")
    single_sign_on(Client(), sso_on, "max")
    identity = SingleSignOnIdentity.objects.get(user=member.user)
    hr = make_person("sso_hr", role=None, hr=True)
    client.force_login(hr)
    page = client.get(reverse("staff_detail", args=[member.pk])).content.decode()
    assert "Linked to max@example.org" in page and "they sign in with single sign-on" in page
    url = reverse("staff_unlink_sso", args=[member.pk, identity.pk])
    assert "Unlink" in client.post(url).content.decode()  # the confirmation first
    assert SingleSignOnIdentity.objects.filter(pk=identity.pk).exists()
    assert client.post(url, {"confirmed": "1"}).status_code == 302
    assert not SingleSignOnIdentity.objects.exists()
    assert actions(member)[-1] == sso.UNBOUND

    # His new account at the provider (a new subject, the same address) is bound at its first sign-in.
    sso_on.set_user("max2", password=PROVIDER_PASSWORD, email="max@example.org")
    again = Client()
    single_sign_on(again, sso_on, "max2")
    assert signed_in_as(again) == member.user
    assert SingleSignOnIdentity.objects.get(user=member.user).subject != identity.subject


@pytest.mark.parametrize("url_name", ["sso_start", "sso_callback"])
def test_the_two_addresses_are_open_to_everyone_and_take_get_alone(client, sso_on, staff, url_name):
    for who in (None, staff):
        if who is not None:
            client.force_login(who)
        response = client.get(reverse(url_name))
        assert response.status_code in (302, 400)
        assert client.post(reverse(url_name)).status_code == 405


@pytest.mark.parametrize(
    "environment, message",
    [
        ({"SSO_ISSUER": "https://login.example.org"}, "needs all three of SSO_ISSUER, SSO_CLIENT_ID"),
        ({"SSO_ONLY": "1"}, "SSO_ONLY=1 needs single sign-on set up"),
    ],
)
def test_single_sign_on_half_set_up_stops_the_app_at_start(environment, message):
    clean = {name: value for name, value in os.environ.items() if not name.startswith("SSO_")}
    result = subprocess.run(
        [sys.executable, "-c", "import config.settings"],
        env={**clean, "SECRET_KEY": "settings-test", **environment},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0 and "ImproperlyConfigured" in result.stderr and message in result.stderr


def test_an_address_missing_from_the_id_token_is_read_from_the_userinfo_endpoint(client, sso_on):
    """Some providers put the address only in their userinfo answer: asked with the sign-in's access token."""
    member = person("sso_vic", "vic@example.org")
    sso_on.set_user("vic", password=PROVIDER_PASSWORD, email="vic@example.org")
    start = client.get(reverse("sso_start"))
    callback = sso_on.sign_in(start["Location"], "vic", PROVIDER_PASSWORD)
    query = dict(parse_qsl(urlsplit(callback).query))
    flow = client.session["oidc_states"][query["state"]]
    tokens = requests.post(
        sso_on.token_endpoint,
        data={
            "grant_type": "authorization_code",
            "code": query["code"],
            "redirect_uri": "http://testserver/accounts/sso/callback/",
            "client_id": sso_on.client_id,
            "client_secret": sso_on.client_secret,
            "code_verifier": flow["code_verifier"],
        },
        timeout=10,
    ).json()
    config = sso.provider()
    backend = sso.SingleSignOnBackend(config, sso.endpoints(config))
    claims = backend.verify_token(tokens["id_token"], nonce=flow["nonce"])
    without_address = {name: value for name, value in claims.items() if name not in ("email", "email_verified")}

    assert backend.get_or_create_user(tokens["access_token"], tokens["id_token"], without_address) == member.user
    assert backend.claims["email"] == "vic@example.org"
