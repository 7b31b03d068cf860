from __future__ import annotations

import contextlib
from typing import Any

from django.db import DatabaseError, connection, transaction
from django.db.models.sql import InsertQuery

from billing.models import DEFAULT_PLAN_SLUG, Plan, UsageRecord


def plan_default() -> Plan:
    """The plan new tenants get unless told otherwise (created by billing's data migration;
    recreated here if an operator or a database flush removed it)."""
    plan, _ = Plan.objects.get_or_create(
        slug=DEFAULT_PLAN_SLUG,
        defaults={"name": "Default", "max_concurrent_streams": 4, "requests_per_minute": 120},
    )
    return plan


def usage_record_open(**fields: Any) -> UsageRecord:
    """A synthesis's usage record as admission writes it: status `open`, billed 0 until closed.
    Committed without waiting for the disk (`synchronous_commit` off for this one transaction):
    the commit reaches it within PostgreSQL's wal_writer_delay (200 ms) unless the database
    server itself crashes in that time, and it halves the cost on the request path.

    One round trip where it can: BEGIN, the setting, the ORM's own INSERT and COMMIT go to the
    server as one query (client-side binding, Django's default with psycopg 3), instead of four
    (a synthesis waits for this record before its first audio leaves). Inside a transaction
    already open (a test's, a caller's atomic block) it is the same INSERT in a savepoint."""
    record = UsageRecord(
        status=UsageRecord.Status.OPEN, characters_billed=0, settled=False, **fields
    )
    if connection.in_atomic_block or not connection.get_autocommit():
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
            record.save(force_insert=True)
        return record
    insert, params = _insert_sql(record)
    with connection.cursor() as cursor:
        try:
            cursor.execute(f"BEGIN; SET LOCAL synchronous_commit TO OFF; {insert}; COMMIT", params)
        except DatabaseError:
            # The failed statement left the session in the aborted transaction it began.
            with contextlib.suppress(Exception):
                connection.connection.rollback()
            raise
        while cursor.description is None and cursor.nextset():
            pass  # to the INSERT's RETURNING row
        row = cursor.fetchone()
    record.pk = row[0]
    record._state.adding = False
    record._state.db = connection.alias
    return record


def _insert_sql(record: UsageRecord) -> tuple[str, tuple[Any, ...]]:
    """The ORM's INSERT … RETURNING id for `record` (as `save(force_insert=True)` builds it)."""
    meta = UsageRecord._meta
    fields = [f for f in meta.local_concrete_fields if f is not meta.auto_field]
    query = InsertQuery(UsageRecord)
    query.insert_values(fields, [record])
    compiler = query.get_compiler(connection=connection)
    compiler.returning_fields = [meta.pk]
    [(sql, params)] = compiler.as_sql()
    return sql, tuple(params)
