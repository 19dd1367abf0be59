"""Thresholds, automations, self-service actions and initiatives."""

from django.apps import AppConfig

from e360.schedules import Every


class ActionsConfig(AppConfig):
    name = "actions"
    verbose_name = "Actions"
    schedules = (
        # --- reminders ---
        Every("Review reminders: record those due", "actions.tasks.reminders_tick", minutes=15),
        # --- automations ---
        Every("Automations: collect triggers and run them", "actions.tasks.automations_tick", minutes=1, long=True),
        # --- thresholds ---
        Every("Evaluate thresholds", "actions.tasks.thresholds_evaluate", minutes=15, long=True),
        # --- initiatives ---
        Every("Initiatives: freeze those whose start has come", "actions.tasks.initiatives_freeze_due", hourly=True),
        Every(
            "Initiatives: publish their reports and headlines",
            "actions.tasks.initiatives_publish",
            hourly=True,
            long=True,
        ),
    )
