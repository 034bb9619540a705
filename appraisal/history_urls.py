from django.urls import path

from appraisal import history_views

urlpatterns = [
    path("my/history/", history_views.my_history, name="my_history"),
    path("my/history.pdf", history_views.my_history_pdf, name="my_history_pdf"),
    path("people/<int:pk>/history/", history_views.person_history, name="person_history"),
    path("people/<int:pk>/history.pdf", history_views.person_history_pdf, name="person_history_pdf"),
]
