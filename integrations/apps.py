from django.apps import AppConfig

from e360.schedules import Every


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations"
    schedules = (
        # What changed since each cursor's watermark (webhooks are the way in; this catches what they missed).
        Every("Sync the providers' APIs", "integrations.tasks.connections_sync", minutes=15),
    )

    def ready(self) -> None:
        from integrations import providers

        providers.register_processors()
