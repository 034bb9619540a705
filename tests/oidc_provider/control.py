"""The control endpoint: the tests create and change the provider's people over HTTP, without a process of
their own on its database.

POST /control/users/ with `Authorization: Bearer <control secret>` and a JSON object: "username"
(required), and any of "password", "email", "first_name", "last_name", "mfa", "email_verified",
"is_active". The person of that username is created, or updated with the fields given (a field left out
keeps its value; a new person starts active, with a verified email, without a second factor, with no
usable password). Answers {"sub": ...}, the subject of their ID tokens. 403 without the secret, 400 for
a body it cannot use.
"""

import hmac
import json

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from oidc_provider import settings as oidc_settings

from tests.oidc_provider.claims import EMAIL_UNVERIFIED, MFA

TEXT_FIELDS = {"password", "email", "first_name", "last_name"}
FLAG_FIELDS = {"mfa", "email_verified", "is_active"}


def _authorised(request: HttpRequest) -> bool:
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(secret.encode(), settings.CONTROL_SECRET.encode())


def _problem(body: object) -> str | None:
    """What is wrong with the body, if anything."""
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    if not isinstance(body.get("username"), str) or not body["username"]:
        return "username is required"
    unknown = set(body) - TEXT_FIELDS - FLAG_FIELDS - {"username"}
    if unknown:
        return f"unknown fields: {', '.join(sorted(unknown))}"
    for name in TEXT_FIELDS & set(body):
        if not isinstance(body[name], str):
            return f"{name} must be a string"
    for name in FLAG_FIELDS & set(body):
        if not isinstance(body[name], bool):
            return f"{name} must be true or false"
    return None


def _set_flag(user: User, flag: str, on: bool) -> None:
    group, _ = Group.objects.get_or_create(name=flag)
    if on:
        user.groups.add(group)
    else:
        user.groups.remove(group)


@csrf_exempt  # called by the tests with the secret, not by a browser
@require_POST
def users(request: HttpRequest) -> JsonResponse:
    if not _authorised(request):
        return JsonResponse({"error": "the control secret is required"}, status=403)
    try:
        body = json.loads(request.body)
    except ValueError:
        return JsonResponse({"error": "the body must be JSON"}, status=400)
    problem = _problem(body)
    if problem:
        return JsonResponse({"error": problem}, status=400)

    with transaction.atomic():
        user, created = User.objects.get_or_create(username=body["username"])
        if created:
            user.set_unusable_password()
        # A new password ends the person's sessions at the provider (Django's session auth hash): only a
        # password that differs is set, so that changing someone's email leaves them signed in here.
        if "password" in body and not user.check_password(body["password"]):
            user.set_password(body["password"])
        for name in ("email", "first_name", "last_name", "is_active"):
            if name in body:
                setattr(user, name, body[name])
        user.save()
        if "mfa" in body:
            _set_flag(user, MFA, body["mfa"])
        if "email_verified" in body:
            _set_flag(user, EMAIL_UNVERIFIED, not body["email_verified"])

    sub = oidc_settings.get("OIDC_IDTOKEN_SUB_GENERATOR", import_str=True)(user=user)
    return JsonResponse({"sub": sub}, status=201 if created else 200)
