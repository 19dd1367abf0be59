from django.apps import AppConfig
from django.db.models.signals import post_migrate

from e360.schedules import Every


class SurveysConfig(AppConfig):
    name = "surveys"
    schedules = (Every("Survey campaigns: open, close, remind", "surveys.tasks.tick", minutes=1, long=True),)

    def ready(self) -> None:
        post_migrate.connect(_load_bank, sender=self, dispatch_uid="surveys.bank")


def _load_bank(using: str, **kwargs) -> None:
    """The shipped templates (``surveys.bank``) after each migrate: those missing are created, edits kept."""
    from surveys.services import templates_load_bank

    templates_load_bank(using=using)
