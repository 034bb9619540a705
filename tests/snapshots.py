"""Every row of the database, to show that a refused or failed action changed nothing."""

from django.apps import apps

SNAPSHOT_APPS = ("core", "audit", "competencies", "roles", "staff", "appraisal", "auth", "otp_totp", "otp_static")


def snapshot() -> dict:
    """Every row of every table of the app and of the logins (sessions aside), in primary-key order."""
    models = [
        model for label in SNAPSHOT_APPS for model in apps.get_app_config(label).get_models(include_auto_created=True)
    ]
    return {model._meta.label: list(model._base_manager.order_by("pk").values()) for model in models}
