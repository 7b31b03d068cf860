"""Billing's scheduled work (public schema): usage roll-ups and monthly statements."""

from __future__ import annotations

from datetime import datetime

from celery import shared_task

from billing import rollups, statements


@shared_task(name="billing.tasks.rollup_usage", ignore_result=True)
def rollup_usage(granularity: str, start: str, end: str) -> int:
    """Recomputes roll-ups for [start, end), ISO 8601 times (JSON-serializable arguments)."""
    return rollups.rollup_usage(
        granularity, datetime.fromisoformat(start), datetime.fromisoformat(end)
    )


@shared_task(name="billing.tasks.rollup_recent_hours", ignore_result=True)
def rollup_recent_hours() -> int:
    return rollups.rollup_recent(rollups.Granularity.HOUR, buckets=2)


@shared_task(name="billing.tasks.rollup_recent_days", ignore_result=True)
def rollup_recent_days() -> int:
    return rollups.rollup_recent(rollups.Granularity.DAY, buckets=2)


@shared_task(name="billing.tasks.close_statements", ignore_result=True)
def close_statements() -> int:
    """Closes every ended month not yet closed, for every tenant; cheap when they all are, so it
    runs daily and a missed run (beat down on the 1st) is made up by the next one."""
    return len(statements.close_ended_months())
