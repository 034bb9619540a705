from django.apps import AppConfig


class RolesConfig(AppConfig):
    name = "roles"
    verbose_name = "Role profiles and staff"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from config.security import start_session_clock

        # Every login (the test client's too) starts the session's clock (config/security.py).
        user_logged_in.connect(start_session_clock, dispatch_uid="config.security.start_session_clock")
