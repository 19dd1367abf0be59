"""The actions app's models, one module per area (thresholds, channels, self-service actions,
reminders, automations, initiatives), each imported here so that Django finds them."""

from actions.models.automations import Automation, AutomationRun  # noqa: F401
from actions.models.channels import Channel, MissingSecret, OutboxMessage, SlackMember  # noqa: F401
from actions.models.initiatives import Initiative, InitiativeTeam  # noqa: F401
from actions.models.reminders import Reminder, ReminderPolicy  # noqa: F401
from actions.models.selfservice import ActionAudit, ActionKind, ActionPolicy  # noqa: F401
from actions.models.thresholds import Threshold, ThresholdEvent  # noqa: F401
