from django.apps import AppConfig

from e360.schedules import Every


class ActionsConfig(AppConfig):
    name = "actions"
    verbose_name = "Actions"
    schedules = (
        # --- thresholds ---
        Every("Evaluate thresholds", "actions.tasks.thresholds_evaluate", minutes=15, long=True),
    )
