from django.urls import path

from competencies import views

urlpatterns = [
    path("", views.framework, name="framework"),
    path("matrix/", views.framework_matrix, name="framework_matrix"),
    path("matrix.csv", views.framework_matrix_csv, name="framework_matrix_csv"),
]
