from __future__ import annotations

from django.http import HttpRequest

from callwaiting_tts.async_middleware import Middleware
from tenants.db import tenant_connection


class PublicSchemaMiddleware(Middleware):
    """Every request starts on the public schema and the connection returns to it afterwards,
    whichever tenant the API key authentication switched to (the tenant is resolved from the
    key, not the hostname, so django-tenants' hostname middleware is not used).

    That is work for a synchronous chain (the test client, WSGI), where one thread's connection
    serves request after request. Under daphne (an async chain) there is nothing to do, and this
    thread's connection is not the request's: Django runs each request's synchronous code in a
    thread of its own (its ThreadSensitiveContext), whose connection starts on the public
    schema; pooled connections get their search path set again on checkout (django-tenants
    forgets it when a connection is closed)."""

    def before(self, request: HttpRequest) -> None:
        if not self.async_mode:
            tenant_connection().set_schema_to_public()

    def finish(self, request: HttpRequest) -> None:
        if not self.async_mode:
            tenant_connection().set_schema_to_public()
