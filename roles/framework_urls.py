from django.urls import path

from roles import framework_edit_views as edit_views, framework_views as views

urlpatterns = [
    path("", views.framework, name="framework"),
    path("matrix/", views.framework_matrix, name="framework_matrix"),
    path("matrix.csv", views.framework_matrix_csv, name="framework_matrix_csv"),
    path("edit/", edit_views.framework_edit, name="framework_edit"),
    path("competencies/new/", edit_views.competency_create, name="competency_create"),
    path("competencies/<slug:slug>/", edit_views.competency_edit, name="competency_edit"),
    path("competencies/<slug:slug>/move/<str:direction>/", edit_views.competency_move, name="competency_move"),
    path("competencies/<slug:slug>/retire/", edit_views.competency_retire, name="competency_retire"),
    path("competencies/<slug:slug>/levels/new/", edit_views.level_create, name="level_create"),
    path("competencies/<slug:slug>/levels/<int:number>/", edit_views.level_edit, name="level_edit"),
    path("competencies/<slug:slug>/levels/<int:number>/retire/", edit_views.level_retire, name="level_retire"),
]
