"""The one way into a tenant's schema, for sync and async code alike.

A block runs in the schema (`with tenant_schema(name): ...`), inside the selector or service
that needs it. Async code calls those functions in a database thread (`database_sync_to_async`):
the schema is a property of the thread's connection and does not follow into the thread pool,
so it is entered there, by the function itself. Every request starts on the public schema and
goes back to it (`PublicSchemaMiddleware`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import cast

from django.db import connection
from django_tenants.postgresql_backend.base import DatabaseWrapper
from django_tenants.utils import schema_context


def tenant_connection() -> DatabaseWrapper:
    """The default connection as django-tenants' wrapper, which knows schemas (typed access)."""
    return cast(DatabaseWrapper, connection)


@contextlib.contextmanager
def tenant_schema(schema_name: str) -> Iterator[None]:
    """The block runs in `schema_name`; the schema before it comes back afterwards."""
    with schema_context(schema_name):
        yield
