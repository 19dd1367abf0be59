from django.apps import AppConfig


class E360Config(AppConfig):
    name = "e360"
    verbose_name = "Catalog"
