from django.urls import path

from reports import audit_views

urlpatterns = [
    path("", audit_views.audit_log, name="audit_log"),
]
