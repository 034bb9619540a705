from django.urls import path

from reports import email_views

urlpatterns = [
    path("", email_views.email_log, name="email_log"),
    path("<int:pk>/resend/", email_views.email_resend, name="email_resend"),
]
