from django.urls import path

from roles import pdf_views

urlpatterns = [
    path("<slug:slug>.pdf", pdf_views.role_profile_pdf, name="role_profile_pdf"),
    path("<slug:slug>/versions/<int:number>.pdf", pdf_views.role_profile_version_pdf, name="role_profile_version_pdf"),
]
