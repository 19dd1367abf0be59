"""Thresholds, automations, self-service actions and initiatives."""
