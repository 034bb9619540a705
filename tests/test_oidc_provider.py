"""The test OpenID Connect provider (tests/oidc_provider/, started by tests/sso_provider.py) does what the
tests of single sign-on rely on, checked as a client would with only HTTP and JWT: discovery, the
authorization-code flow through its login page, ID tokens signed with the key its JWKS publishes and
carrying the person's claims, a `sub` that does not change with their email, `amr`, `hd`, and no way
back to the app without the right password.
"""

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
import requests

from tests.sso_provider import SSO_CALLBACK, Provider, SignInFailed

SCOPE = "openid email profile"


def authorize_url(provider: Provider, **extra: str) -> tuple[str, str, str]:
    """The authorization URL an app would redirect to, with its state and nonce."""
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    query = {
        "response_type": "code",
        "client_id": provider.client_id,
        "redirect_uri": SSO_CALLBACK,
        "scope": SCOPE,
        "state": state,
        "nonce": nonce,
        **extra,
    }
    return f"{provider.authorization_endpoint}?{urlencode(query)}", state, nonce


def returned(location: str) -> dict[str, str]:
    """The query of the URL the provider sent the browser back to, which must be the redirect URI."""
    assert location.split("?")[0] == SSO_CALLBACK
    return {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}


def exchange(provider: Provider, code: str, *, basic: bool = False, **extra: str) -> requests.Response:
    """The token request for `code`: the client's secret in the body (client_secret_post), or as HTTP Basic."""
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": SSO_CALLBACK}
    if basic:
        auth = (provider.client_id, provider.client_secret)
        return requests.post(provider.token_endpoint, data=data | extra, auth=auth, timeout=10)
    data |= {"client_id": provider.client_id, "client_secret": provider.client_secret}
    return requests.post(provider.token_endpoint, data=data | extra, timeout=10)


def verified(provider: Provider, id_token: str, nonce: str) -> dict:
    """The ID token's claims, its signature checked with the key the JWKS publishes, its issuer, audience and
    nonce checked."""
    key = jwt.PyJWKClient(provider.jwks_uri).get_signing_key_from_jwt(id_token).key
    claims = jwt.decode(id_token, key, algorithms=["RS256"], audience=provider.client_id, issuer=provider.issuer)
    assert claims["nonce"] == nonce
    return claims


def signed_in(provider: Provider, username: str, password: str, **extra: str) -> tuple[dict, dict]:
    """The whole flow for one person: the token response and the verified ID token's claims."""
    url, state, nonce = authorize_url(provider, **extra)
    back = returned(provider.sign_in(url, username, password))
    assert back["state"] == state
    response = exchange(provider, back["code"])
    assert response.status_code == 200, response.text
    tokens = response.json()
    return tokens, verified(provider, tokens["id_token"], nonce)


def test_discovery(oidc_provider):
    document = requests.get(oidc_provider.discovery_url, timeout=10).json()

    assert document["issuer"] == oidc_provider.issuer == f"{oidc_provider.url}/openid"
    assert document["authorization_endpoint"] == oidc_provider.authorization_endpoint
    assert document["token_endpoint"] == oidc_provider.token_endpoint
    assert document["userinfo_endpoint"] == oidc_provider.userinfo_endpoint
    assert document["jwks_uri"] == oidc_provider.jwks_uri
    assert "code" in document["response_types_supported"]
    assert {"client_secret_post", "client_secret_basic"} <= set(document["token_endpoint_auth_methods_supported"])
    keys = requests.get(document["jwks_uri"], timeout=10).json()["keys"]
    assert [(key["kty"], key["alg"], key["use"]) for key in keys] == [("RSA", "RS256", "sig")]


def test_code_flow(oidc_provider):
    sub = oidc_provider.set_user(
        "ada", password="analytical", email="ada@example.org", first_name="Ada", last_name="Lovelace"
    )

    tokens, claims = signed_in(oidc_provider, "ada", "analytical")

    assert claims["sub"] == sub
    assert claims["iss"] == oidc_provider.issuer
    assert claims["aud"] == oidc_provider.client_id
    assert claims["email"] == "ada@example.org"
    assert claims["email_verified"] is True
    assert (claims["name"], claims["given_name"], claims["family_name"]) == ("Ada Lovelace", "Ada", "Lovelace")
    assert claims["amr"] == ["pwd"]
    assert "hd" not in claims
    userinfo = requests.get(
        oidc_provider.userinfo_endpoint, headers={"Authorization": f"Bearer {tokens['access_token']}"}, timeout=10
    ).json()
    assert userinfo == {name: claims[name] for name in userinfo}
    assert {"sub", "email", "email_verified", "name", "given_name", "family_name"} <= set(userinfo)


def test_a_code_serves_once(oidc_provider):
    oidc_provider.set_user("once", password="pw-once", email="once@example.org")
    url, _, _ = authorize_url(oidc_provider)
    code = returned(oidc_provider.sign_in(url, "once", "pw-once"))["code"]

    assert exchange(oidc_provider, code, basic=True).status_code == 200  # client_secret_basic too
    assert exchange(oidc_provider, code).json()["error"] == "invalid_grant"


def test_wrong_client_secret(oidc_provider):
    oidc_provider.set_user("secretive", password="pw-secret", email="secretive@example.org")
    url, _, _ = authorize_url(oidc_provider)
    code = returned(oidc_provider.sign_in(url, "secretive", "pw-secret"))["code"]

    response = exchange(oidc_provider, code, client_secret="not-the-secret")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client"


def test_sub_stays_when_the_email_changes(oidc_provider):
    sub = oidc_provider.set_user("grace", password="compiler", email="grace@old.example.org")
    assert signed_in(oidc_provider, "grace", "compiler")[1]["email"] == "grace@old.example.org"

    assert oidc_provider.set_user("grace", password="compiler", email="grace@new.example.org") == sub

    claims = signed_in(oidc_provider, "grace", "compiler")[1]
    assert (claims["sub"], claims["email"]) == (sub, "grace@new.example.org")


def test_second_factor_and_unverified_email(oidc_provider):
    oidc_provider.set_user("mfa-person", password="two-factors", email="mfa@example.org", mfa=True)
    oidc_provider.set_user("unverified", password="pw-unverified", email="who@example.org", email_verified=False)

    assert signed_in(oidc_provider, "mfa-person", "two-factors")[1]["amr"] == ["pwd", "mfa"]
    assert signed_in(oidc_provider, "unverified", "pw-unverified")[1]["email_verified"] is False


def test_pkce(oidc_provider):
    oidc_provider.set_user("pkce", password="pw-pkce", email="pkce@example.org")
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    url, _, _ = authorize_url(oidc_provider, code_challenge=challenge, code_challenge_method="S256")
    code = returned(oidc_provider.sign_in(url, "pkce", "pw-pkce"))["code"]

    assert exchange(oidc_provider, code).json()["error"] == "invalid_grant"  # no verifier
    assert exchange(oidc_provider, code, code_verifier="not-" + verifier).json()["error"] == "invalid_grant"
    assert exchange(oidc_provider, code, code_verifier=verifier).status_code == 200


def test_no_way_back_without_the_right_password(oidc_provider):
    oidc_provider.set_user("careful", password="right-password", email="careful@example.org")
    oidc_provider.set_user("gone", password="pw-gone", email="gone@example.org", is_active=False)

    with pytest.raises(SignInFailed, match="did not sign careful in"):
        oidc_provider.sign_in(authorize_url(oidc_provider)[0], "careful", "wrong-password")
    with pytest.raises(SignInFailed, match="did not sign gone in"):
        oidc_provider.sign_in(authorize_url(oidc_provider)[0], "gone", "pw-gone")


def test_signed_in_at_the_provider_already(oidc_provider):
    """Single sign-on: a browser with a session at the provider comes back without its login form, and one
    without gets `login_required` when the app asks for no prompt."""
    oidc_provider.set_user("regular", password="pw-regular", email="regular@example.org")
    browser = requests.Session()
    oidc_provider.sign_in(authorize_url(oidc_provider)[0], "regular", "pw-regular", session=browser)

    url, state, _ = authorize_url(oidc_provider)
    again = returned(oidc_provider.sign_in(url, "regular", "not-even-asked", session=browser))
    assert again["state"] == state and again["code"]
    # Still signed in there after their email changes (their password does not).
    oidc_provider.set_user("regular", password="pw-regular", email="regular@new.example.org")
    assert "code" in returned(oidc_provider.sign_in(url, "regular", "not-even-asked", session=browser))

    url, state, _ = authorize_url(oidc_provider, prompt="none")
    refused = returned(oidc_provider.sign_in(url, "regular", "pw-regular"))
    assert (refused["error"], refused["state"]) == ("login_required", state)


def test_unknown_redirect_uri(oidc_provider):
    url, _, _ = authorize_url(oidc_provider, redirect_uri="http://elsewhere.example/callback/")

    with pytest.raises(SignInFailed, match="no login form"):
        oidc_provider.sign_in(url, "ada", "analytical")


def test_control_endpoint_needs_the_secret(oidc_provider):
    url = f"{oidc_provider.url}/control/users/"
    body = {"username": "intruder", "password": "x"}

    assert requests.post(url, json=body, timeout=10).status_code == 403
    assert requests.post(url, json=body, headers={"Authorization": "Bearer wrong"}, timeout=10).status_code == 403


def test_hosted_domain():
    """Started with a hosted domain (as the browser tests start their own provider), ID tokens of people at
    that domain carry Google's `hd`; others' do not."""
    with Provider([SSO_CALLBACK], client_id="other-app", hosted_domain="example.org") as provider:
        provider.set_user("inside", password="pw-inside", email="inside@example.org")
        provider.set_user("outside", password="pw-outside", email="outside@gmail.example")

        assert signed_in(provider, "inside", "pw-inside")[1]["hd"] == "example.org"
        assert "hd" not in signed_in(provider, "outside", "pw-outside")[1]
    with pytest.raises(RuntimeError, match="not started"):
        provider.set_user("late", password="pw", email="late@example.org")
