from django.apps import AppConfig


class E360Config(AppConfig):
    name = "e360"
    verbose_name = "Catalog"

    def ready(self) -> None:
        from e360 import checks  # noqa: F401  (registers the system checks)
