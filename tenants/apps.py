from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from callwaiting_tts import deployment  # noqa: F401  (registers the start-up refusals)
        from tenants import openapi  # noqa: F401  (registers the OpenAPI security scheme)
