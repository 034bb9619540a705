"""What the test provider says about a person: the standard claims (userinfo, and the ID token, which
includes them), and the ID token's `amr` and `hd`.

Per-person flags are Django groups of these names, set through the control endpoint (control.py): a
person in MFA signed in with a second factor; one in EMAIL_UNVERIFIED has an email address the provider
has not verified.
"""

from django.conf import settings

MFA = "mfa"
EMAIL_UNVERIFIED = "email-unverified"


def has_flag(user, flag: str) -> bool:
    return user.groups.filter(name=flag).exists()


def userinfo(claims: dict, user) -> dict:
    """django-oidc-provider's OIDC_USERINFO: the standard claims, of which it keeps those of the scopes
    granted (email: email, email_verified; profile: name, given_name, family_name, ...). Empty ones are
    left out of the responses."""
    claims.update(
        name=user.get_full_name(),
        given_name=user.first_name,
        family_name=user.last_name,
        preferred_username=user.username,
        email=user.email,
        email_verified=not has_flag(user, EMAIL_UNVERIFIED),
    )
    return claims


def id_token_hook(id_token: dict, user, token, request, **kwargs) -> dict:
    """django-oidc-provider's OIDC_IDTOKEN_PROCESSING_HOOK: how the person authenticated (`amr`, RFC 8176:
    "pwd", and "mfa" if with a second factor), and, when the provider was started with a hosted domain,
    Google's `hd` for a person whose email is at it."""
    id_token["amr"] = ["pwd", "mfa"] if has_flag(user, MFA) else ["pwd"]
    domain = settings.HOSTED_DOMAIN
    if domain and user.email.lower().endswith("@" + domain):
        id_token["hd"] = domain
    return id_token
