from django.apps import AppConfig


class PronunciationsConfig(AppConfig):
    name = "pronunciations"
    default_auto_field = "django.db.models.BigAutoField"
