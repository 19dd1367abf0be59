from django.apps import AppConfig


class MetricsConfig(AppConfig):
    name = "metrics"

    def ready(self) -> None:
        from metrics import sql  # noqa: F401 - registers the ``__any`` lookup on foreign keys
