"""The second factor's pages: set it up (a QR code and the secret as text), verify it at sign-in (a code
from the app or a recovery code), new recovery codes, and HR's reset of a person's second factor.

After a password login, someone with a second factor is sent to verify it before any other page
(`verification_first`); until then their session has no HR admin rights (`core.access`).
"""

from functools import partial

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render, resolve_url
from django.urls import reverse
from django.utils.functional import SimpleLazyObject
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login

from core.access import hr_admin_required, in_hr_admin_group
from core.confirm import Confirmation, is_confirmed, render_confirmation
from staff import second_factor, sso
from staff.access import require_hr_admin_over
from staff.models import StaffMember

# Set in the session at a password login when the person has a second factor: every page but the
# verification (and logging out) sends them there until they have verified it.
PENDING_KEY = "second_factor_pending"


@receiver(user_logged_in)
def ask_for_second_factor(sender, request, user, **kwargs):
    if request is None or not hasattr(request, "session"):
        return
    if request.session.get(sso.PROVIDER_MFA_KEY) == user.pk:  # the provider's second factor counts
        return
    if second_factor.has_second_factor(user):
        request.session[PENDING_KEY] = True


def _verified_by_provider(session, user):
    """The request's user, verified if their single sign-on's token said the provider asked for a second factor."""
    if user.is_authenticated and session.get(sso.PROVIDER_MFA_KEY) == user.pk:
        user.is_verified = lambda: True
    return user


def verification_first(get_response):
    """Middleware (after django-otp's OTPMiddleware): a session waiting for its second factor sees only
    the page that asks for it. A single sign-on whose token says the provider asked for a second factor
    is verified as if by one of ours (the token's `amr`, staff/sso.py). With settings.HR_REQUIRES_SECOND_FACTOR
    off nobody is asked (the unit
    tests sign people in with `force_login`)."""
    open_paths = None

    def middleware(request):
        nonlocal open_paths
        if request.session.get(sso.PROVIDER_MFA_KEY) is not None:
            request.user = SimpleLazyObject(partial(_verified_by_provider, request.session, request.user))
        if settings.HR_REQUIRES_SECOND_FACTOR and request.session.get(PENDING_KEY) and request.user.is_authenticated:
            if request.user.is_verified():
                del request.session[PENDING_KEY]
            else:
                open_paths = open_paths or {reverse("second_factor_verify"), reverse("logout")}
                if request.path not in open_paths:
                    return HttpResponseRedirect(_with_next("second_factor_verify", request.get_full_path()))
        return get_response(request)

    return middleware


def _with_next(url_name: str, next_url: str) -> str:
    url = resolve_url(url_name)
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


def _next_url(request) -> str:
    """Where to go once verified: the page asked for (on this site), else home."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return resolve_url(settings.LOGIN_REDIRECT_URL)


@login_required
@require_http_methods(["GET"])
def second_factor_status(request):
    user = request.user
    return render(
        request,
        "registration/second_factor.html",
        {
            "device": second_factor.confirmed_device(user),
            "recovery_codes_left": second_factor.recovery_codes_left(user),
            "verified": user.is_verified(),
            "is_hr_admin_login": in_hr_admin_group(user),
        },
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def second_factor_enrol(request):
    user = request.user
    if second_factor.has_second_factor(user):
        messages.info(request, "You have a second factor already. To change it, ask HR to reset it.")
        return redirect("second_factor")
    device = second_factor.pending_device(user)
    error = None
    if request.method == "POST":
        codes = second_factor.confirm_enrolment(user=user, device=device, code=request.POST.get("code", ""))
        if codes is not None:
            device.refresh_from_db()
            request.session.cycle_key()  # more rights than before: a new session id
            otp_login(request, device)
            request.session.pop(PENDING_KEY, None)
            return render(
                request,
                "registration/second_factor_codes.html",
                {"codes": codes, "next": _next_url(request), "first_time": True},
            )
        error = "That code did not match. Type the six digits your app shows now (they change every 30 seconds)."
    return render(
        request,
        "registration/second_factor_enrol.html",
        {
            "qr_code": second_factor.qr_code_svg(device),
            "secret": second_factor.secret(device),
            "issuer": second_factor.issuer(),
            "error": error,
            "next": request.POST.get("next") or request.GET.get("next", ""),
        },
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def second_factor_verify(request):
    user = request.user
    next_url = request.POST.get("next") or request.GET.get("next", "")
    if not second_factor.has_second_factor(user):
        return HttpResponseRedirect(_with_next("second_factor_enrol", next_url))
    if user.is_verified():
        request.session.pop(PENDING_KEY, None)
        return HttpResponseRedirect(_next_url(request))
    error = None
    if request.method == "POST":
        outcome = second_factor.verify(user=user, code=request.POST.get("code", ""))
        if outcome.device is not None:
            request.session.cycle_key()  # more rights than before: a new session id
            otp_login(request, outcome.device)
            request.session.pop(PENDING_KEY, None)
            if outcome.recovery_codes_left is not None:
                messages.warning(
                    request,
                    f"You used a recovery code; {outcome.recovery_codes_left} left. "
                    "Make new ones from “Two-step sign-in” if you are running out.",
                )
            return HttpResponseRedirect(_next_url(request))
        if outcome.locked_until is not None:
            error = "Too many wrong codes. Wait a little, then try again with the code your app shows then."
        else:
            error = "That code did not match. Type the six digits your app shows now, or one of your recovery codes."
    return render(request, "registration/second_factor_verify.html", {"error": error, "next": next_url})


@never_cache
@login_required
@require_POST
def second_factor_recovery_codes(request):
    user = request.user
    if not second_factor.has_second_factor(user):
        return redirect("second_factor")
    if not user.is_verified():
        return HttpResponseRedirect(_with_next("second_factor_verify", reverse("second_factor")))
    codes = second_factor.regenerate_recovery_codes(user=user)
    return render(
        request,
        "registration/second_factor_codes.html",
        {"codes": codes, "next": reverse("second_factor"), "first_time": False},
    )


@hr_admin_required
@require_POST
def staff_reset_second_factor(request, pk):
    member = get_object_or_404(StaffMember.objects.select_related("user"), pk=pk)
    require_hr_admin_over(request.user, member.pk)  # not their own, nor someone's above them
    back = reverse("staff_detail", args=[member.pk])
    if not is_confirmed(request):
        return render_confirmation(
            request,
            Confirmation(
                title=f"Reset {member.name}'s second factor?",
                action=reverse("staff_reset_second_factor", args=[member.pk]),
                button="Reset second factor",
                back_url=back,
                lead=(
                    "Do this when they have lost the phone with their authenticator app and their recovery codes. "
                    "Make sure it is them asking."
                ),
                irreversible=[
                    "Their authenticator app and recovery codes stop working at once.",
                    "They set up a new one before they next open an HR page."
                    if in_hr_admin_group(member.user)
                    else "They sign in with their password alone until they set up a new one.",
                ],
                breadcrumbs=[("Staff", reverse("staff_list")), (member.name, back)],
                button_style="danger",
            ).with_posted(request),
        )
    if second_factor.reset(by=request.user, user=member.user):
        messages.success(request, f"{member.name}'s second factor was reset: they can set up a new one.")
    else:
        messages.info(request, f"{member.name} had no second factor.")
    return redirect("staff_detail", member.pk)
