from django.apps import AppConfig


class StaffConfig(AppConfig):
    name = "staff"
    verbose_name = "Staff records"

    def ready(self):
        # Connects the login signal's receiver: a sign-in by someone with a second factor asks for it.
        from staff import second_factor_views  # noqa: F401
