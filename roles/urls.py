from django.urls import path

from roles import views

urlpatterns = [
    path("", views.role_profile_list, name="role_profile_list"),
    path("<slug:slug>/", views.role_profile_detail, name="role_profile_detail"),
]
