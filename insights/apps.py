from __future__ import annotations

from django.apps import AppConfig

from e360.schedules import Every


class InsightsConfig(AppConfig):
    name = "insights"
    verbose_name = "Insights"
    schedules = (Every("Insights: recompute bottlenecks and correlations", "insights.tasks.refresh", hourly=True),)
