"""Single sign-on's two addresses (staff/sso.py): the start, which sends the browser to the provider, and
the callback it comes back to. What goes wrong is a page that says what happened and what to do (never
a server error): the provider unreachable, a sign-in cancelled there or started in another tab, a token
refused, a person the organisation does not know or who has left."""

import logging

import requests
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.core.exceptions import SuspiciousOperation
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render, resolve_url
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from django.views.generic import View
from mozilla_django_oidc.views import OIDCAuthenticationRequestView

from core.access import hr_admin_required
from core.confirm import Confirmation, is_confirmed, render_confirmation
from staff import sso
from staff.access import require_hr_admin_over
from staff.models import SingleSignOnIdentity, StaffMember
from staff.sso import Refusal, Refused

logger = logging.getLogger(__name__)

STATES_KEY = "oidc_states"  # where mozilla-django-oidc keeps each sign-in's state, nonce and PKCE verifier
NEXT_KEY = "oidc_login_next"


@method_decorator(never_cache, name="dispatch")
class SingleSignOnStart(OIDCAuthenticationRequestView):
    """Sends the browser to the provider (the library's request: state, nonce, PKCE, `next` kept)."""

    def __init__(self, **kwargs):  # not the library's: it reads the provider's address from settings
        View.__init__(self, **kwargs)
        self.OIDC_RP_CLIENT_ID = settings.SSO_CLIENT_ID

    def get(self, request):
        config = sso.provider()
        if config is None:
            raise Http404("Single sign-on is not set up.")
        try:
            self.OIDC_OP_AUTH_ENDPOINT = sso.endpoints(config).authorization
        except Refused as refusal:
            return refused(request, refusal, config)
        return super().get(request)


@never_cache
@require_GET
def single_sign_on_callback(request):
    """Where the provider sends the browser back, with a code to exchange for the person's ID token."""
    config = sso.provider()
    if config is None:
        raise Http404("Single sign-on is not set up.")
    states = request.session.get(STATES_KEY) or {}
    state = request.GET.get("state", "")
    flow = states.pop(state, None) if state else None
    if flow is not None:  # used once: a replayed callback finds nothing
        request.session[STATES_KEY] = states
        request.session.save()
    if flow is None:  # not a sign-in this browser started (or one already used): nothing is audited for it
        return refused(request, Refused(Refusal.EXPIRED), config)
    if request.GET.get("error") or not request.GET.get("code"):
        error = request.GET.get("error", "no code")[:100]
        description = request.GET.get("error_description", "")[:300]
        return refused(request, Refused(Refusal.PROVIDER_ERROR, detail=f"{error}: {description}".strip(": ")), config)
    try:
        found = sso.endpoints(config)
        backend = sso.SingleSignOnBackend(config, found)
        user = backend.authenticate(request, nonce=flow.get("nonce"), code_verifier=flow.get("code_verifier"))
    except Refused as refusal:
        return refused(request, refusal, config)
    except SuspiciousOperation as error:
        return refused(request, sso.suspicious(error), config)
    except requests.HTTPError as error:  # the provider refused the code (used, expired) or answered badly
        logger.warning("Single sign-on: the provider refused the code: %s", error)
        status = error.response.status_code if error.response is not None else 0
        reason = Refusal.EXPIRED if 400 <= status < 500 else Refusal.PROVIDER_DOWN
        return refused(request, Refused(reason, detail=str(error)[:300]), config)
    except (requests.RequestException, ValueError) as error:
        logger.warning("Single sign-on: the provider could not be reached: %s", error)
        return refused(request, Refused(Refusal.PROVIDER_DOWN, detail=str(error)[:300]), config)
    if user is None:
        return refused(request, Refused(Refusal.EXPIRED), config)
    next_url = request.session.get(NEXT_KEY)
    if sso.provider_mfa(config, backend.claims):
        request.session[sso.PROVIDER_MFA_KEY] = user.pk
    login(request, user, backend="staff.auth.StaffBackend")  # checked on every request as a password's session
    return HttpResponseRedirect(next_url or resolve_url(settings.LOGIN_REDIRECT_URL))


@hr_admin_required
@require_POST
def staff_unlink_sso(request, pk, identity_pk):
    """HR unlinks a person's account at the provider (after a confirmation), when it was replaced."""
    member = get_object_or_404(StaffMember.objects.select_related("user"), pk=pk)
    require_hr_admin_over(request.user, member.pk)  # not their own, nor someone's above them
    identity = get_object_or_404(SingleSignOnIdentity, pk=identity_pk, user=member.user)
    back = reverse("staff_detail", args=[member.pk])
    if not is_confirmed(request):
        return render_confirmation(
            request,
            Confirmation(
                title=f"Unlink {member.name}'s single sign-on account?",
                action=reverse("staff_unlink_sso", args=[member.pk, identity.pk]),
                button="Unlink",
                back_url=back,
                lead=(
                    f"Do this when their account at {identity.issuer} was replaced by a new one "
                    f"(it is linked to {identity.email or 'an account'} now)."
                ),
                irreversible=[
                    "Their next single sign-on finds them by the email address on their record "
                    f"({member.user.email or 'none yet'}) and links the account it comes with.",
                ],
                breadcrumbs=[("Staff", reverse("staff_list")), (member.name, back)],
                button_style="danger",
            ).with_posted(request),
        )
    sso.unlink(by=request.user, identity=identity)
    messages.success(request, f"{member.name}'s single sign-on account was unlinked.")
    return redirect("staff_detail", member.pk)


def refused(request, refusal: Refused, config: sso.Provider | None):
    """The page that says why nobody was signed in, and the refusal in the audit trail (the provider being
    down, or the browser coming back late, is in the log alone: nobody was refused)."""
    if refusal.reason not in (Refusal.PROVIDER_DOWN, Refusal.EXPIRED):
        sso.record_refusal(refusal, config)
    else:
        logger.info("Single sign-on not completed: %s %s", refusal.reason, refusal.detail)
    status = {Refusal.PROVIDER_DOWN: 503, Refusal.EXPIRED: 400}.get(refusal.reason, 403)
    context = {
        "reason": refusal.reason.name,
        "email": refusal.email,
        "detail": refusal.detail if refusal.reason is Refusal.LEFT else "",
        "provider_name": config.name if config else "",
        "password_allowed": not sso.only_way_in(),
    }
    return render(request, "registration/sso_refused.html", context, status=status)
