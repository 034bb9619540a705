from django.apps import AppConfig


class AppraisalConfig(AppConfig):
    name = "appraisal"
    verbose_name = "Appraisals"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from appraisal.drafts import note_kept_input

        # A login finds out whether input was kept for the person (appraisal/drafts.py).
        user_logged_in.connect(note_kept_input, dispatch_uid="appraisal.drafts.note_kept_input")
