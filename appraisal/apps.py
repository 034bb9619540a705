from django.apps import AppConfig


class AppraisalConfig(AppConfig):
    name = "appraisal"
    verbose_name = "Appraisals"

    def ready(self):
        from django.contrib.auth import get_user_model
        from django.contrib.auth.signals import user_logged_in
        from django.db.models.signals import post_save

        from appraisal.drafts import note_kept_input
        from appraisal.tallies import on_service_changed, on_user_saved
        from staff.signals import service_changed

        # A login finds out whether input was kept for the person (appraisal/drafts.py).
        user_logged_in.connect(note_kept_input, dispatch_uid="appraisal.drafts.note_kept_input")
        # The organisation report's tallies follow a person who changes service (appraisal/tallies.py).
        service_changed.connect(on_service_changed, dispatch_uid="appraisal.tallies.on_service_changed")
        # ... and a change of name, in the lists the report reads in the names' order.
        post_save.connect(on_user_saved, sender=get_user_model(), dispatch_uid="appraisal.tallies.on_user_saved")
