from __future__ import annotations

from typing import Any

from django.db import connection, transaction

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
    server itself crashes in that time, and it halves the cost on the request path."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
        return UsageRecord.objects.create(
            status=UsageRecord.Status.OPEN, characters_billed=0, settled=False, **fields
        )
