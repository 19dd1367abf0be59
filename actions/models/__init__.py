"""The actions app's models, one module per area (thresholds, channels, self-service actions,
reminders, automations), each imported here so that Django finds them."""

from actions.models.thresholds import Threshold, ThresholdEvent  # noqa: F401
