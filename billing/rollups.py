"""Hourly and daily usage roll-ups: sums of UsageRecord per bucket, tenant, API key and voice.

A range is recomputed from the records (delete + insert in one transaction), so running it
twice, or late, gives the same rows; the records stay authoritative. A record belongs to the
bucket of its `started_at`, as statements count it; an open record (a synthesis still running)
counts once it is closed and its bucket is next recomputed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from django.db.models import Count, Sum
from django.db.models.functions import Trunc
from django.utils import timezone

from billing.models import UsageRecord, UsageRollup

Granularity = UsageRollup.Granularity
_STEP = {Granularity.HOUR: timedelta(hours=1), Granularity.DAY: timedelta(days=1)}
_LOCK_ID = 0x62696C6C  # pg_advisory_xact_lock: two recomputations of one range never interleave


def bucket_floor(moment: datetime, granularity: str) -> datetime:
    floored = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return floored.replace(hour=0) if granularity == Granularity.DAY else floored


def bucket_ceil(moment: datetime, granularity: str) -> datetime:
    floored = bucket_floor(moment, granularity)
    return floored if floored == moment else floored + _STEP[Granularity(granularity)]


def rollup_usage(granularity: str, start: datetime, end: datetime) -> int:
    """Recomputes every `granularity` bucket that overlaps [start, end) from the usage records.
    Returns how many roll-up rows the range now has."""
    if granularity not in _STEP:
        raise ValueError(f"granularity must be hour or day, not {granularity!r}")
    start, end = bucket_floor(start, granularity), bucket_ceil(end, granularity)
    sums = (
        UsageRecord.objects.closed()
        .filter(started_at__gte=start, started_at__lt=end)
        .annotate(bucket=Trunc("started_at", granularity, tzinfo=UTC))
        .values("bucket", "tenant_id", "api_key_id", "voice")
        .annotate(
            requests=Count("id"),
            characters=Sum("characters_billed"),
            audio=Sum("audio_seconds_delivered"),
        )
        .order_by()
    )
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_ID])
        UsageRollup.objects.filter(
            granularity=granularity, bucket_start__gte=start, bucket_start__lt=end
        ).delete()
        rows = [
            UsageRollup(
                granularity=granularity,
                bucket_start=row["bucket"],
                tenant_id=row["tenant_id"],
                api_key_id=row["api_key_id"],
                voice=row["voice"],
                requests=row["requests"],
                characters=row["characters"] or 0,
                audio_seconds_delivered=row["audio"] or 0.0,
            )
            for row in sums
        ]
        UsageRollup.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


def rollup_recent(granularity: str, buckets: int = 2) -> int:
    """The current bucket and the `buckets` before it: late records land on the next run."""
    now = timezone.now()
    start = bucket_floor(now, granularity) - buckets * _STEP[Granularity(granularity)]
    return rollup_usage(granularity, start, now)
