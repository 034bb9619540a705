from django.contrib.auth import views as auth_views
from django.urls import include, path

from appraisal.views import home, leavers, team
from staff import account_views, invitation_views, second_factor_views, sso_views
from staff.login import LoginView

# A busy database is a page that says so and keeps what was typed, not a server error (core/busy.py).
handler500 = "core.busy.server_error"

urlpatterns = [
    path("", home.home, name="home"),
    path("accounts/login/", LoginView.as_view(), name="login"),
    path("accounts/sso/start/", sso_views.SingleSignOnStart.as_view(), name="sso_start"),
    path("accounts/sso/callback/", sso_views.single_sign_on_callback, name="sso_callback"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/", account_views.change_password, name="change_password"),
    path("accounts/second-factor/", second_factor_views.second_factor_status, name="second_factor"),
    path("accounts/second-factor/set-up/", second_factor_views.second_factor_enrol, name="second_factor_enrol"),
    path("accounts/second-factor/verify/", second_factor_views.second_factor_verify, name="second_factor_verify"),
    path(
        "accounts/second-factor/recovery-codes/",
        second_factor_views.second_factor_recovery_codes,
        name="second_factor_recovery_codes",
    ),
    path("accounts/password/reset/", account_views.request_password_reset, name="password_reset"),
    path("accounts/password/reset/sent/", account_views.password_reset_done, name="password_reset_done"),
    path(
        "accounts/password/reset/<uidb64>/<token>/",
        account_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("accounts/welcome/code/", invitation_views.invitation_code, name="invitation_code"),
    path("accounts/welcome/<int:pk>/<str:token>/", invitation_views.invitation_accept, name="invitation_accept"),
    path("roles/", include("roles.pdf_urls")),
    path("roles/", include("roles.urls")),
    path("framework/", include("roles.framework_urls")),
    path("staff/<int:pk>/leaver/", leavers.staff_mark_leaver, name="staff_mark_leaver"),
    path("staff/", include("staff.urls")),
    path("appraisals/", include("appraisal.urls")),
    path("reports/", include("reports.urls")),
    path("audit/", include("reports.audit_urls")),
    path("emails/", include("reports.email_urls")),
    path("jobs/", include("core.urls")),
    path("", include("appraisal.history_urls")),
    path("team/", team.team, name="team"),
]
