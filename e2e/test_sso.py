"""Single sign-on in the browser: a second server of the app, on a copy of the run's demo database, with
single sign-on set up against a real OpenID Connect provider started on 127.0.0.1 (tests/oidc_provider/).
Chromium goes from the app's login page to the provider's, signs in there and comes back signed in; a
person the organisation does not know comes back to a page that says so."""

import sqlite3

import pytest

from e2e.conftest import Server, Session, _free_port, answers, check_page, manage_command, runserver, stop
from tests.sso_provider import Provider

PROVIDER_PASSWORD = "provider-pass-phrase"


@pytest.fixture(scope="module")
def sso_server(server, tmp_path_factory):
    """The app with single sign-on set up, on a copy of the demo database, beside its provider."""
    work = tmp_path_factory.mktemp("e2e-sso")
    copy = work / "db.sqlite3"
    source = sqlite3.connect(server.env["DATABASE_URL"].removeprefix("sqlite:///"))
    target = sqlite3.connect(copy)
    source.backup(target)  # a consistent copy, though the first server is running
    source.close()
    target.close()
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    provider = Provider([f"{url}/accounts/sso/callback/"]).start()
    env = {
        **server.env,
        "DATABASE_URL": f"sqlite:///{copy}",
        "SSO_ISSUER": provider.issuer,
        "SSO_CLIENT_ID": provider.client_id,
        "SSO_CLIENT_SECRET": provider.client_secret,
        "SSO_PROVIDER_NAME": "Example Provider",
    }
    log = open(work / "server.log", "w")
    process = runserver(env, port, log)
    try:
        if not answers(url, process):
            pytest.fail(f"the server did not start:\n{(work / 'server.log').read_text()}")
        app = Server(url, server.ids, {}, manage=manage_command(env), env=env)
        app.provider = provider
        yield app
    finally:
        stop(process)
        provider.stop()
        log.close()


def test_staff_sign_in_with_the_organisation_s_account(browser, sso_server):
    app, provider = sso_server, sso_server.provider
    email = app.shell("from django.contrib.auth.models import User; print(User.objects.get(username='staff').email)")
    email = email.strip().splitlines()[-1]
    provider.set_user("sam", password=PROVIDER_PASSWORD, email=email, first_name="Sam")

    person = Session(browser, app)
    page = person.page
    try:
        page.goto("/accounts/login/")
        check_page(person, "sso-login")
        page.get_by_role("link", name="Sign in with Example Provider").click()
        page.get_by_role("heading", name="Example Identity Provider").wait_for()
        page.get_by_label("Username").fill("sam")
        page.get_by_label("Password").fill(PROVIDER_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{app.url}/")
        assert page.get_by_role("link", name="My history").count() == 1  # signed in, as a member of staff
        check_page(person, "sso-signed-in")
        bound = app.shell(
            "from staff.models import SingleSignOnIdentity as I; "
            "print(list(I.objects.values_list('user__username', 'email')))"
        )
        assert bound.strip().splitlines()[-1] == str([("staff", email)])
    finally:
        person.context.close()

    # Someone the provider knows and the organisation does not.
    provider.set_user("stranger", password=PROVIDER_PASSWORD, email="stranger@elsewhere.example")
    stranger = Session(browser, app)
    page = stranger.page
    try:
        page.goto("/accounts/login/")
        page.get_by_role("link", name="Sign in with Example Provider").click()
        page.get_by_label("Username").fill("stranger")
        page.get_by_label("Password").fill(PROVIDER_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("heading", name="Your account is not known here", level=1).wait_for()
        assert "stranger@elsewhere.example" in page.locator("main").inner_text()
        check_page(stranger, "sso-unknown-person")
    finally:
        stranger.context.close()
