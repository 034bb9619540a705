from django.urls import path

from reports import views as report_views

urlpatterns = [
    path("", report_views.report_page, name="reports"),
    path("outcomes.csv", report_views.outcomes_csv, name="outcomes_csv"),
    path("progress-by-state.csv", report_views.progress_by_state_csv, name="report_progress_by_state"),
    path("progress-by-service.csv", report_views.progress_by_service_csv, name="report_progress_by_service"),
    path("progress-by-manager.csv", report_views.progress_by_manager_csv, name="report_progress_by_manager"),
    path("standing.csv", report_views.standing_csv, name="report_standing"),
    path("below-entry.csv", report_views.below_entry_csv, name="report_below_entry"),
]
