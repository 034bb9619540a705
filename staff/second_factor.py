"""A second factor at sign-in: a code from an authenticator app (TOTP, django-otp's `TOTPDevice`), or one
of ten single-use recovery codes (a `StaticDevice` and its tokens).

HR admins need one for their HR rights (`core.access`, settings.HR_REQUIRES_SECOND_FACTOR); anyone may
turn it on for themselves. A device counts once it has been confirmed with a first code. Wrong codes
are throttled by django-otp (each failure doubles the wait before the next try). Enrolment, every
recovery code used, a run of wrong codes, new recovery codes and a reset are in the audit trail, never
a secret or a code.
"""

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import datetime

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.trail import Actor, record
from staff.access import staff_member_for

RECOVERY_CODE_COUNT = 10
# A run of this many wrong codes in a row is written to the audit trail (and each further run as long).
FAILURES_AUDITED_EVERY = 5
DEVICE_NAME = "Authenticator app"
RECOVERY_DEVICE_NAME = "Recovery codes"
TOTP_CODE = re.compile(r"\d{6}")


@dataclass
class Verification:
    """The outcome of a code given at sign-in: the device that accepted it, or why none did."""

    device: Device | None = None
    locked_until: datetime | None = None  # too many wrong codes: no code is checked before then
    recovery_codes_left: int | None = None  # after a recovery code was used


def confirmed_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def has_second_factor(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def recovery_codes_left(user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def pending_device(user: User) -> TOTPDevice:
    """The device being set up (not yet confirmed): its secret stays the same until it is confirmed."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    return device or TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)


def secret(device: TOTPDevice) -> str:
    """The device's secret as an authenticator app takes it typed in: base32, in groups of four."""
    text = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def key_from_secret(text: str) -> str:
    """A device key (hex) from a base32 secret as `secret` writes it (spaces and case do not matter)."""
    compact = re.sub(r"\s+", "", text).upper()
    try:
        raw = base64.b32decode(compact + "=" * (-len(compact) % 8))
    except binascii.Error as error:
        raise ValueError("Not a base32 secret.") from error
    return raw.hex()


def issuer() -> str:
    return getattr(settings, "OTP_TOTP_ISSUER", "") or "Appraisals"


def qr_code_svg(device: TOTPDevice) -> SafeString:
    """The device's otpauth:// address as a QR code, an inline SVG (no script, no inline style: the CSP allows it)."""
    code = qrcode.QRCode(border=4, image_factory=qrcode.image.svg.SvgPathFillImage)
    code.add_data(device.config_url)
    code.make(fit=True)
    svg = code.make_image().to_string(encoding="unicode")
    # Made by the library from the address alone (only the path's geometry depends on it); sized and labelled here.
    svg = re.sub(r'^<svg width="[^"]*" height="[^"]*"', "<svg", svg)
    label = escape(f"QR code to add {issuer()} to an authenticator app")
    return mark_safe(svg.replace("<svg", f'<svg width="220" height="220" role="img" aria-label="{label}"', 1))  # noqa: S308 - generated SVG, no text of anyone's in it


def normalise(code: str) -> str:
    return re.sub(r"[\s-]+", "", code or "").lower()


def _audit(*, actor: Actor, action: str, user: User, changes: dict | None = None) -> None:
    member = staff_member_for(user)
    record(
        actor=actor,
        action=action,
        obj=member or user,
        person=member,
        object_type=None if member else "login",
        changes=changes,
    )


def _new_recovery_codes(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


@transaction.atomic
def confirm_enrolment(*, user: User, device: TOTPDevice, code: str) -> list[str] | None:
    """Confirm the device being set up with a first code from the app; its recovery codes (shown once), or
    None if the code is wrong. Any device confirmed before is replaced."""
    device = TOTPDevice.objects.select_for_update().get(pk=device.pk, user=user, confirmed=False)
    code = normalise(code)
    if not TOTP_CODE.fullmatch(code) or not device.verify_token(code):
        return None
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    codes = _new_recovery_codes(user)
    _audit(
        actor=user,
        action="set up second factor",
        user=user,
        changes={"second factor": [None, DEVICE_NAME], "recovery codes": RECOVERY_CODE_COUNT},
    )
    return codes


def verify(*, user: User, code: str) -> Verification:
    """Check a code given at sign-in: from the app (six digits) or a recovery code (used up)."""
    code = normalise(code)
    with transaction.atomic():
        if TOTP_CODE.fullmatch(code):
            device: Device | None = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True).first()
        else:
            device = StaticDevice.objects.select_for_update().filter(user=user, confirmed=True).first()
        if device is None:
            return Verification()
        allowed, why = device.verify_is_allowed()
        if not allowed:
            return Verification(locked_until=(why or {}).get("locked_until"))
        if device.verify_token(code):
            if isinstance(device, StaticDevice):
                left = device.token_set.count()
                _audit(actor=user, action="use recovery code", user=user, changes={"recovery codes left": left})
                return Verification(device=device, recovery_codes_left=left)
            return Verification(device=device)
    # The failure was counted (and committed) by django-otp; a run of them is audited.
    failures = type(device).objects.filter(pk=device.pk).values_list("throttling_failure_count", flat=True).first()
    if failures and failures % FAILURES_AUDITED_EVERY == 0:
        with transaction.atomic():
            _audit(
                actor=user,
                action="second factor refused",
                user=user,
                changes={"wrong codes in a row": failures, "kind": device.name},
            )
    return Verification()


@transaction.atomic
def regenerate_recovery_codes(*, user: User) -> list[str]:
    """New recovery codes for someone with a second factor (the old ones stop working); shown once."""
    codes = _new_recovery_codes(user)
    _audit(actor=user, action="new recovery codes", user=user, changes={"recovery codes": RECOVERY_CODE_COUNT})
    return codes


@transaction.atomic
def reset(*, by: Actor, user: User) -> bool:
    """Remove the user's second factor (a lost phone): their app and recovery codes stop working, and any
    session verified with them is no longer verified. False if they had none."""
    had = TOTPDevice.objects.filter(user=user).exists() or StaticDevice.objects.filter(user=user).exists()
    if not had:
        return False
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    _audit(actor=by, action="reset second factor", user=user, changes={"second factor": [DEVICE_NAME, None]})
    return True


@transaction.atomic
def set_device(*, user: User, secret_text: str) -> TOTPDevice:
    """Give the user a confirmed device with this base32 secret (the demo's HR admin: a secret printed for
    anyone to add to an app). Does nothing if they have one with it already."""
    key = key_from_secret(secret_text)
    device = TOTPDevice.objects.filter(user=user, confirmed=True, key=key).first()
    if device is None:
        TOTPDevice.objects.filter(user=user).delete()
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, key=key, confirmed=True)
    return device
