from django.apps import AppConfig

from e360.schedules import Every


class MetricsConfig(AppConfig):
    name = "metrics"
    schedules = (
        # Each stored inbound event queues its processing; this catches any whose task was lost (a broker restart).
        Every("Process waiting inbound events", "metrics.tasks.inbound_drain", minutes=1),
        Every("Re-queue lost service refreshes", "metrics.tasks.refresh_requests_sweep", minutes=1),
        Every("Keep team rollups in line with the catalog", "metrics.tasks.team_rollups_sync", minutes=1, long=True),
        Every(
            "Write the coming day's workflow rollups", "metrics.tasks.workflow_rollups_sweep", hourly=True, long=True
        ),
    )

    def ready(self) -> None:
        from metrics import sql  # noqa: F401 - registers the ``__any`` lookup on foreign keys
