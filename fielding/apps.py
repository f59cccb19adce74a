from django.apps import AppConfig


class FieldingConfig(AppConfig):
    name = "fielding"
    verbose_name = "Fielding"
