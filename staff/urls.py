from django.urls import path

from staff import account_views, invitation_views, second_factor_views, sso_views, views as staff_views

urlpatterns = [
    path("", staff_views.staff_list, name="staff_list"),
    path("new/", staff_views.staff_create, name="staff_create"),
    path("import/", staff_views.staff_import, name="staff_import"),
    path("invite/", invitation_views.staff_invite_many, name="staff_invite_many"),
    path("import/template.csv", staff_views.staff_import_template, name="staff_import_template"),
    path("<int:pk>/", staff_views.staff_detail, name="staff_detail"),
    path("<int:pk>/edit/", staff_views.staff_edit, name="staff_edit"),
    path("<int:pk>/role/", staff_views.staff_assign_role, name="staff_assign_role"),
    path("<int:pk>/manager/", staff_views.staff_assign_manager, name="staff_assign_manager"),
    path("<int:pk>/invite/", invitation_views.staff_invite, name="staff_invite"),
    path("<int:pk>/setup-code/", invitation_views.staff_setup_code, name="staff_setup_code"),
    path("<int:pk>/sso/<int:identity_pk>/unlink/", sso_views.staff_unlink_sso, name="staff_unlink_sso"),
    path("<int:pk>/password/", account_views.staff_set_password, name="staff_set_password"),
    path(
        "<int:pk>/second-factor/reset/",
        second_factor_views.staff_reset_second_factor,
        name="staff_reset_second_factor",
    ),
]
