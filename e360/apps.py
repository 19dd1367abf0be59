from django.apps import AppConfig
from django.db.models.signals import post_migrate

from e360.schedules import Every


class E360Config(AppConfig):
    name = "e360"
    verbose_name = "Catalog"
    schedules = (Every("Worker heartbeat", "e360.tasks.heartbeat", minutes=1),)

    def ready(self) -> None:
        from e360 import checks  # noqa: F401  (registers the system checks)
        from e360.schedules import sync
        from e360.services import org_viewers_group_sync

        # Every app's declared schedules, after each migrate (and test flush), as Django creates permissions.
        post_migrate.connect(sync, dispatch_uid="e360.schedules.sync")
        post_migrate.connect(org_viewers_group_sync, sender=self, dispatch_uid="e360.org_viewers")
