from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from tenants.db import tenant_connection


class PublicSchemaMiddleware:
    """Every request starts on the public schema and the connection returns to it afterwards,
    whichever tenant the API key authentication switched to (the tenant is resolved from the
    key, not the hostname, so django-tenants' hostname middleware is not used)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        tenant_connection().set_schema_to_public()
        try:
            return self.get_response(request)
        finally:
            tenant_connection().set_schema_to_public()
