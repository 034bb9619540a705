from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path

from competencies import views as competency_views
from roles import views as role_views

urlpatterns = [
    path("", role_views.home, name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("roles/", role_views.role_profile_list, name="role_profile_list"),
    path("roles/<slug:slug>/", role_views.role_profile_detail, name="role_profile_detail"),
    path("framework/", competency_views.framework, name="framework"),
    path("framework/matrix/", competency_views.framework_matrix, name="framework_matrix"),
    path("framework/matrix.csv", competency_views.framework_matrix_csv, name="framework_matrix_csv"),
    path("team/", role_views.team, name="team"),
    path("admin/", admin.site.urls),
]
