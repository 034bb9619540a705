"""Signals the staff records send, for what depends on them in the apps above (which `staff` may not import)."""

from django.dispatch import Signal

# A person's service changed (sent inside the change's transaction): `member`, `previous_service_id`.
# The organisation report's tallies count appraisals by the person's current service (`appraisal.tallies`).
service_changed = Signal()
