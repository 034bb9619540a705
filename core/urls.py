from django.urls import path

from core import views

urlpatterns = [
    path("<int:pk>/", views.job_detail, name="job"),
    path("<int:pk>/file/", views.job_file, name="job_file"),
]
