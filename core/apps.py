from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from core.security import start_session_clock

        # Every login (the test client's too) starts the session's clock (core/security.py).
        user_logged_in.connect(start_session_clock, dispatch_uid="core.security.start_session_clock")
