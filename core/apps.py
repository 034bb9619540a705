from django.apps import AppConfig, apps


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in
        from django.db.models.signals import post_migrate

        from core.security import start_session_clock
        from core.tasks import sync_schedule

        # Every login (the test client's too) starts the session's clock (core/security.py).
        user_logged_in.connect(start_session_clock, dispatch_uid="core.security.start_session_clock")
        # After every migrate, the engine's schedules are those settings.SCHEDULE names (core/tasks.py);
        # once, after the engine's own app (post_migrate is sent only for apps with models).
        engine = apps.get_app_config("django_q")
        post_migrate.connect(sync_schedule, sender=engine, dispatch_uid="core.tasks.sync_schedule")
