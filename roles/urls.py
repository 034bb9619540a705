from django.urls import path

from roles import edit_views, views

urlpatterns = [
    path("", views.role_profile_list, name="role_profile_list"),
    path("new/", edit_views.role_profile_create, name="role_profile_create"),
    path("<slug:slug>/", views.role_profile_detail, name="role_profile_detail"),
    path("<slug:slug>/versions/", views.role_profile_versions, name="role_profile_versions"),
    path("<slug:slug>/versions/<int:number>/", views.role_profile_version, name="role_profile_version"),
    path("<slug:slug>/compare/", views.role_profile_compare, name="role_profile_compare"),
    path("<slug:slug>/draft/", edit_views.role_profile_draft, name="role_profile_draft"),
    path("<slug:slug>/draft/details/", edit_views.draft_details, name="role_profile_draft_details"),
    path(
        "<slug:slug>/draft/person-specification/",
        edit_views.draft_person_specification,
        name="role_profile_draft_person_specification",
    ),
    path("<slug:slug>/draft/organisation/", edit_views.draft_organisation, name="role_profile_draft_organisation"),
    path("<slug:slug>/draft/windows/", edit_views.draft_windows, name="role_profile_draft_windows"),
    path("<slug:slug>/draft/publish/", edit_views.draft_publish, name="role_profile_draft_publish"),
    path("<slug:slug>/draft/discard/", edit_views.draft_discard, name="role_profile_draft_discard"),
    path("<slug:slug>/draft/<slug:section>/", edit_views.draft_text_list, name="role_profile_draft_list"),
]
