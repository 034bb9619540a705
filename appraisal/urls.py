from django.urls import path

from appraisal import views

urlpatterns = [
    path("", views.appraisal_list, name="appraisal_list"),
    path("cycles/", views.cycle_list, name="cycle_list"),
    path("cycles/new/", views.cycle_create, name="cycle_create"),
    path("cycles/<int:pk>/", views.cycle_detail, name="cycle_detail"),
    path("cycles/<int:pk>/open/", views.cycle_open, name="cycle_open"),
    path("<int:pk>/", views.appraisal_detail, name="appraisal"),
    path("<int:pk>.pdf", views.appraisal_pdf, name="appraisal_pdf"),
    path("<int:pk>/review/", views.appraisal_review, name="appraisal_review"),
    path("<int:pk>/self-assessment/", views.appraisal_self_assessment, name="appraisal_self_assessment"),
    path("<int:pk>/submit-self-assessment/", views.submit_self_assessment, name="appraisal_submit_self_assessment"),
    path("<int:pk>/begin-review/", views.begin_review, name="appraisal_begin_review"),
    path("<int:pk>/share/", views.share, name="appraisal_share"),
    path("<int:pk>/withdraw/", views.withdraw, name="appraisal_withdraw"),
    path("<int:pk>/sign-off/", views.sign_off, name="appraisal_sign_off"),
    path("<int:pk>/countersign/", views.countersign, name="appraisal_countersign"),
    path("<int:pk>/reopen/", views.reopen, name="appraisal_reopen"),
    path("<int:pk>/appraiser/", views.reassign, name="appraisal_reassign"),
]
