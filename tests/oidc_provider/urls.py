"""The test provider's pages: its login page, the control endpoint, and django-oidc-provider's endpoints
under /openid/ (discovery at /openid/.well-known/openid-configuration)."""

from django.contrib.auth.views import LoginView
from django.urls import include, path

from tests.oidc_provider import control

urlpatterns = [
    path("accounts/login/", LoginView.as_view(template_name="provider/login.html"), name="login"),
    path("control/users/", control.users, name="control-users"),
    path("openid/", include("oidc_provider.urls", namespace="oidc_provider")),
]
