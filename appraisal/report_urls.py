from django.urls import path

from appraisal import report_views

urlpatterns = [
    path("outcomes.csv", report_views.outcomes_csv, name="outcomes_csv"),
]
