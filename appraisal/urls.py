from django.urls import path

from appraisal.views import cycles, records, sheets, steps

urlpatterns = [
    path("", records.appraisal_list, name="appraisal_list"),
    path("cycles/", cycles.cycle_list, name="cycle_list"),
    path("cycles/new/", cycles.cycle_create, name="cycle_create"),
    path("cycles/<int:pk>/", cycles.cycle_detail, name="cycle_detail"),
    path("cycles/<int:pk>/open/", cycles.cycle_open, name="cycle_open"),
    path("cycles/<int:pk>/remind/", cycles.cycle_remind, name="cycle_remind"),
    path("cycles/<int:pk>/zip/", cycles.cycle_zip, name="cycle_zip"),
    path("<int:pk>/", records.appraisal_detail, name="appraisal"),
    path("<int:pk>.pdf", records.appraisal_pdf, name="appraisal_pdf"),
    path("<int:pk>/review/", sheets.appraisal_review, name="appraisal_review"),
    path("<int:pk>/review/autosave/", sheets.appraisal_review_autosave, name="appraisal_review_autosave"),
    path("<int:pk>/self-assessment/", sheets.appraisal_self_assessment, name="appraisal_self_assessment"),
    path(
        "<int:pk>/self-assessment/autosave/",
        sheets.appraisal_self_assessment_autosave,
        name="appraisal_self_assessment_autosave",
    ),
    path("<int:pk>/submit-self-assessment/", steps.submit_self_assessment, name="appraisal_submit_self_assessment"),
    path("<int:pk>/begin-review/", steps.begin_review, name="appraisal_begin_review"),
    path("<int:pk>/share/", steps.share, name="appraisal_share"),
    path("<int:pk>/withdraw/", steps.withdraw, name="appraisal_withdraw"),
    path("<int:pk>/sign-off/", steps.sign_off, name="appraisal_sign_off"),
    path("<int:pk>/countersign/", steps.countersign, name="appraisal_countersign"),
    path("<int:pk>/take-back/", steps.take_back, name="appraisal_take_back"),
    path("<int:pk>/refer/", steps.refer, name="appraisal_refer"),
    path("<int:pk>/referral/", steps.decide_referral, name="appraisal_decide_referral"),
    path("<int:pk>/reopen/", steps.reopen, name="appraisal_reopen"),
    path("<int:pk>/appraiser/", steps.reassign, name="appraisal_reassign"),
]
