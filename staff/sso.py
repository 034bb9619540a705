"""Single sign-on with the organisation's own accounts: OpenID Connect, with Microsoft Entra ID, Google
Workspace or any standard provider, configured by the environment (config/settings.py, README).

mozilla-django-oidc does the protocol: the redirect to the provider with state, nonce and PKCE, the
code's exchange at the token endpoint, the ID token's signature checked against the provider's keys.
This module decides whom the organisation lets in:

- the provider's endpoints come from its discovery document (kept an hour);
- a token is accepted only from the configured issuer (exactly: for Entra ID that is the organisation's
  tenant), for this app (`aud`), unexpired, and, when SSO_HOSTED_DOMAIN is set (Google Workspace), of
  that domain (`hd`);
- a person is found by their binding, the issuer and the provider's stable identifier of them (`sub`,
  `SingleSignOnIdentity`); the first time, by the email address on their record, then bound. A later
  change of address at the provider changes nothing: the binding finds them, and an address that now
  names someone else's login does not find that login, which is bound to its own subject (or, if the
  address is new to the organisation, finds nobody);
- nobody is created: someone the provider knows and the organisation does not is refused, as are a
  leaver, a deactivated login, an address two logins share and an unverified address;
- every sign-in, binding and refusal is in the audit trail.
"""

import logging
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

import jwt
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.exceptions import SuspiciousOperation
from django.db import IntegrityError, transaction
from django.utils import timezone
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from audit.trail import record
from core.access import in_hr_admin_group
from staff.access import staff_member_for
from staff.auth import has_left, left_message
from staff.models import SingleSignOnIdentity, single_sign_on

logger = logging.getLogger(__name__)

DISCOVERY_SECONDS = 60 * 60
SIGNING_ALGORITHMS = ["RS256"]  # what Entra ID and Google sign ID tokens with
CLOCK_LEEWAY = 60  # seconds of difference allowed between the provider's clock and ours

# Set in the session at a single sign-on whose token says the provider asked for a second factor (the
# login's id): `staff.second_factor_views` counts it as the session's second factor (core.access).
PROVIDER_MFA_KEY = "sso_provider_mfa"

# Audit trail actions.
SIGNED_IN = "sign in (single sign-on)"
BOUND = "bind single sign-on"
UNBOUND = "unlink single sign-on"
REFUSED = "refuse single sign-on"


@dataclass(frozen=True)
class Provider:
    issuer: str
    client_id: str
    client_secret: str
    name: str
    discovery_url: str
    hosted_domain: str
    mfa_methods: tuple[str, ...]
    timeout: float


def provider() -> Provider | None:
    """The configured provider, or None when single sign-on is off."""
    if not single_sign_on():
        return None
    issuer = settings.SSO_ISSUER.rstrip("/")
    return Provider(
        issuer=issuer,
        client_id=settings.SSO_CLIENT_ID,
        client_secret=settings.SSO_CLIENT_SECRET,
        name=settings.SSO_PROVIDER_NAME,
        discovery_url=settings.SSO_DISCOVERY_URL or f"{issuer}/.well-known/openid-configuration",
        hosted_domain=settings.SSO_HOSTED_DOMAIN.lower(),
        mfa_methods=tuple(settings.SSO_MFA_METHODS),
        timeout=settings.SSO_TIMEOUT,
    )


def only_way_in(user: User | None = None, *, is_hr_admin: bool | None = None) -> bool:
    """Whether single sign-on is the only way in (SSO_ONLY) for `user` (HR admins keep their password).
    `is_hr_admin`: whether they are one, when the caller has read it already (a list's annotation)."""
    if not (settings.SSO_ONLY and single_sign_on()):
        return False
    if user is None:
        return True
    return not (in_hr_admin_group(user) if is_hr_admin is None else is_hr_admin)


class Refusal(StrEnum):
    """Why a single sign-on did not sign anyone in: each has its page (templates/registration/sso_refused.html)."""

    PROVIDER_DOWN = "provider down"
    PROVIDER_ERROR = "provider error"
    EXPIRED = "expired"
    INVALID_TOKEN = "invalid token"  # noqa: S105 - a reason, not a secret
    WRONG_ISSUER = "wrong issuer"
    WRONG_DOMAIN = "wrong domain"
    NO_EMAIL = "no email"
    UNVERIFIED_EMAIL = "unverified email"
    UNKNOWN = "unknown person"
    SHARED_EMAIL = "shared email"
    BOUND_ELSEWHERE = "bound to another account"
    LEFT = "left"
    INACTIVE = "inactive"


class Refused(Exception):
    def __init__(self, reason: Refusal, *, detail: str = "", email: str = "", user: User | None = None):
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail
        self.email = email
        self.user = user


@dataclass(frozen=True)
class Endpoints:
    authorization: str
    token: str
    jwks: str
    userinfo: str


def endpoints(config: Provider) -> Endpoints:
    """The provider's endpoints, from its discovery document (read once an hour); Refused(PROVIDER_DOWN)
    when it cannot be read."""
    key = f"sso-discovery:{config.discovery_url}"
    if cached := cache.get(key):
        return Endpoints(**cached)
    try:
        response = requests.get(config.discovery_url, timeout=config.timeout)
        response.raise_for_status()
        document = response.json()
        found = Endpoints(
            authorization=document["authorization_endpoint"],
            token=document["token_endpoint"],
            jwks=document["jwks_uri"],
            userinfo=document.get("userinfo_endpoint", ""),
        )
    except (requests.RequestException, ValueError, KeyError, TypeError) as error:
        logger.warning("Single sign-on: the provider's discovery document %s could not be read: %s", key, error)
        raise Refused(Refusal.PROVIDER_DOWN, detail=str(error)) from error
    cache.set(key, asdict(found), DISCOVERY_SECONDS)
    return found


class SingleSignOnBackend(OIDCAuthenticationBackend):
    """The library's code flow (`authenticate`: the token request, the signature against the provider's
    keys), with its settings from the configured provider and its discovery document rather than from
    settings, the ID token checked for issuer and audience, and the person found here (`find_person`)
    instead of looked up by email and created. It is not in AUTHENTICATION_BACKENDS: the callback view
    calls it, then signs the person in with `staff.auth.StaffBackend`, which checks them on every request."""

    def __init__(self, config: Provider, found: Endpoints):  # not the library's: it reads endpoints from settings
        self.UserModel = get_user_model()
        self.config = config
        self.OIDC_OP_TOKEN_ENDPOINT = found.token
        self.OIDC_OP_USER_ENDPOINT = found.userinfo
        self.OIDC_OP_JWKS_ENDPOINT = found.jwks
        self.OIDC_RP_CLIENT_ID = config.client_id
        self.OIDC_RP_CLIENT_SECRET = config.client_secret
        self.OIDC_RP_SIGN_ALGO = SIGNING_ALGORITHMS[0]
        self.OIDC_RP_IDP_SIGN_KEY = None
        self.claims: dict[str, Any] = {}

    def _verify_jws(self, payload, key):
        """The library's check of the signature, and also of the issuer, the audience and the times
        (the library checks neither issuer nor audience)."""
        try:
            header = jwt.get_unverified_header(payload)
            if header.get("alg") not in SIGNING_ALGORITHMS:
                raise Refused(Refusal.INVALID_TOKEN, detail=f"signed with {header.get('alg')!r}")
            claims = jwt.decode(
                payload,
                key,
                algorithms=SIGNING_ALGORITHMS,
                audience=self.config.client_id,
                issuer=self.config.issuer,
                leeway=CLOCK_LEEWAY,
                options={"require": ["iss", "sub", "aud", "exp", "iat"]},
            )
        except jwt.InvalidIssuerError as error:
            issuer = jwt.decode(payload, options={"verify_signature": False}).get("iss", "")
            raise Refused(Refusal.WRONG_ISSUER, detail=f"issued by {issuer!r}") from error
        except jwt.PyJWTError as error:
            raise Refused(Refusal.INVALID_TOKEN, detail=str(error)) from error
        return claims

    def get_or_create_user(self, access_token, id_token, payload):
        """The person the verified ID token names (`payload`): never created here."""
        claims = dict(payload)
        if not claims.get("email") and self.OIDC_OP_USER_ENDPOINT:
            # Some providers give the address only from the userinfo endpoint; taken only for the same subject.
            userinfo = self.get_userinfo(access_token, id_token, payload)
            if userinfo.get("sub") == claims["sub"]:
                for name in ("email", "email_verified", "name"):
                    if claims.get(name) in (None, "") and name in userinfo:
                        claims[name] = userinfo[name]
        self.claims = claims
        return find_person(self.config, claims)


def provider_mfa(config: Provider, claims: dict[str, Any]) -> bool:
    """Whether the provider says the person used multi-factor authentication (the token's `amr`)."""
    methods = claims.get("amr") or []
    if isinstance(methods, str):
        methods = [methods]
    return any(method in config.mfa_methods for method in methods)


def find_person(config: Provider, claims: dict[str, Any]) -> User:
    """The login that these verified claims name (binding them at the first sign-in), or Refused."""
    issuer, subject = claims["iss"], str(claims["sub"])
    email = (claims.get("email") or "").strip()
    if config.hosted_domain and str(claims.get("hd", "")).lower() != config.hosted_domain:
        raise Refused(Refusal.WRONG_DOMAIN, email=email, detail=f"hosted domain {claims.get('hd')!r}")
    identity = SingleSignOnIdentity.objects.select_related("user").filter(issuer=issuer, subject=subject).first()
    if identity is not None:
        user = identity.user
    else:
        if not email:
            raise Refused(Refusal.NO_EMAIL)
        if claims.get("email_verified") is False:
            raise Refused(Refusal.UNVERIFIED_EMAIL, email=email)
        users = list(get_user_model()._default_manager.filter(email__iexact=email).order_by("pk")[:2])
        if not users:
            raise Refused(Refusal.UNKNOWN, email=email)
        if len(users) > 1:
            raise Refused(Refusal.SHARED_EMAIL, email=email)
        user = users[0]
        if SingleSignOnIdentity.objects.filter(user=user, issuer=issuer).exists():
            raise Refused(Refusal.BOUND_ELSEWHERE, email=email, user=user)
    if not user.is_active:
        raise Refused(Refusal.INACTIVE, email=email, user=user)
    if has_left(user):
        left_on = user.staff_left_on  # type: ignore[attr-defined]  # read by has_left
        raise Refused(Refusal.LEFT, email=email, user=user, detail=left_message(left_on))
    with transaction.atomic():
        now = timezone.now()
        member = staff_member_for(user)
        if identity is None:
            try:
                with transaction.atomic():
                    identity = SingleSignOnIdentity.objects.create(
                        user=user, issuer=issuer, subject=subject, email=email, bound_at=now, last_sign_in_at=now
                    )
            except IntegrityError:  # bound at the same moment by another sign-in (a second tab, a double click)
                raise Refused(Refusal.EXPIRED, email=email, user=user) from None
            record(
                actor=user,
                action=BOUND,
                obj=identity,
                person=member,
                changes={"issuer": issuer, "email": email},
            )
        else:
            previous_email = identity.email
            identity.email, identity.last_sign_in_at = email, now
            identity.save(update_fields=["email", "last_sign_in_at"])
            if previous_email and email and previous_email.lower() != email.lower():
                record(
                    actor=user,
                    action="edit",
                    obj=identity,
                    person=member,
                    changes={"email at the provider": [previous_email, email]},
                )
        record(
            actor=user,
            action=SIGNED_IN,
            obj=identity,
            person=member,
            changes={"multi-factor at the provider": provider_mfa(config, claims)},
        )
    return user


def unlink(*, by: User, identity: SingleSignOnIdentity) -> None:
    """HR ends a binding (the person's account at the provider was replaced): their next single sign-on
    finds them by their email address again, and binds the account it comes with."""
    with transaction.atomic():
        member = staff_member_for(identity.user)
        record(
            actor=by,
            action=UNBOUND,
            obj=identity,
            person=member,
            changes={"issuer": identity.issuer, "email": identity.email},
        )
        identity.delete()


def record_refusal(refusal: Refused, config: Provider | None) -> None:
    """A refused single sign-on, in the audit trail: who, if known, and why (never a token)."""
    user = refusal.user
    member = staff_member_for(user) if user is not None else None
    who = refusal.email or (str(member) if member else "") or "someone"
    record(
        actor=None,
        action=REFUSED,
        obj=SingleSignOnIdentity(issuer=config.issuer if config else "", email=refusal.email),
        person=member,
        object_repr=f"{who} ({refusal.reason})",
        changes={"reason": str(refusal.reason), **({"detail": refusal.detail[:300]} if refusal.detail else {})},
    )


def suspicious(error: SuspiciousOperation) -> Refused:
    """The library's refusal of a token (no matching key, a nonce that does not match) as ours."""
    return Refused(Refusal.INVALID_TOKEN, detail=str(error))
