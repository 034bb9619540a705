from django.urls import path

from appraisal.views import history

urlpatterns = [
    path("my/history/", history.my_history, name="my_history"),
    path("my/history.pdf", history.my_history_pdf, name="my_history_pdf"),
    path("people/<int:pk>/history/", history.person_history, name="person_history"),
    path("people/<int:pk>/history.pdf", history.person_history_pdf, name="person_history_pdf"),
]
