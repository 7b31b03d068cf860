"""The one way into a tenant's schema, for sync and async code alike.

Sync code runs a block in the schema (`with tenant_schema(name): ...`); async code hands a sync
function to `run_in_tenant_schema`, which runs it in a database thread inside the same block
(the schema is a property of the thread's connection and does not follow into the thread pool).
Every request starts on the public schema and goes back to it (`PublicSchemaMiddleware`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import ParamSpec, TypeVar, cast

from channels.db import database_sync_to_async
from django.db import connection
from django_tenants.postgresql_backend.base import DatabaseWrapper
from django_tenants.utils import schema_context

P = ParamSpec("P")
R = TypeVar("R")


def tenant_connection() -> DatabaseWrapper:
    """The default connection as django-tenants' wrapper, which knows schemas (typed access)."""
    return cast(DatabaseWrapper, connection)


@contextlib.contextmanager
def tenant_schema(schema_name: str) -> Iterator[None]:
    """The block runs in `schema_name`; the schema before it comes back afterwards."""
    with schema_context(schema_name):
        yield


def _call_in_schema(
    schema_name: str, func: Callable[..., R], args: tuple[object, ...], kwargs: dict[str, object]
) -> R:
    with tenant_schema(schema_name):
        return func(*args, **kwargs)


async def run_in_tenant_schema(
    schema_name: str, func: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs
) -> R:
    """`func(*args, **kwargs)` in a database thread, inside `tenant_schema(schema_name)`."""
    run = database_sync_to_async(_call_in_schema)
    return cast(R, await run(schema_name, func, args, kwargs))
