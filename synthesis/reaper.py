"""The usage reaper (Celery beat, every minute): no admitted synthesis goes unrecorded.

Every synthesis has a usage record from its admission on (status `open`, billed 0). Normally the
process that runs it closes the record when it ends. When that process died (killed, out of
memory, a host lost) the record stays open and its lease stops being renewed; the reaper then
closes it as `failed` / `process_lost`, billing what its workers reported as sent (`Keys.progress`:
the characters of every segment that sent audio, and the samples), and settles its admission.

It also reconciles records whose settle never reached Redis (`settled` false after their end):
their lease and reservation are dropped and the month's counter is rebuilt from PostgreSQL
(`billing.admission.reconcile_sync`), so the quota counter never stays low.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from redis.exceptions import RedisError

from billing import admission as admission_service
from billing.admission import Admission, month_of
from billing.models import UsageRecord
from callwaiting_tts.redis import get_redis
from synthesis.models import SynthesisRecord
from synthesis.stream import job_keys
from tenants.db import tenant_schema
from tenants.models import Tenant

logger = logging.getLogger(__name__)

LOST = "process_lost"
# A settle that has not reached Redis this long after the record closed is reconciled (the
# process that wrote it retries for well under a second).
UNSETTLED_GRACE = timedelta(seconds=60)


@dataclass(frozen=True)
class Reaped:
    closed: int
    reconciled: int


def _grace() -> timedelta:
    """An open record is looked at only once its lease could have expired twice over."""
    return timedelta(milliseconds=2 * settings.LEASE_TTL_MS)


def sent_figures(synthesis_id: str) -> tuple[int, float]:
    """(characters, audio seconds) the workers reported as sent for a synthesis."""
    raw = get_redis().hgetall(job_keys().progress(synthesis_id))
    values = {(k.decode() if isinstance(k, bytes) else k): int(v) for k, v in raw.items()}
    rate = values.get("rate") or 1
    return values.get("chars", 0), values.get("samples", 0) / rate


def close_lost(record: UsageRecord, now: datetime) -> bool:
    """Closes one open record whose process is gone; False if it was closed meanwhile."""
    characters, seconds = sent_figures(str(record.synthesis_id))
    closed = UsageRecord.objects.filter(pk=record.pk, status=UsageRecord.Status.OPEN).update(
        status=UsageRecord.Status.FAILED,
        error_code=LOST,
        characters_billed=characters,
        audio_seconds_synthesized=seconds,
        audio_seconds_delivered=seconds,
        ended_at=now,
    )
    if not closed:
        return False
    tenant = Tenant.objects.get(pk=record.tenant_id)
    with tenant_schema(tenant.schema_name):
        SynthesisRecord.objects.get_or_create(
            id=record.synthesis_id,
            defaults={
                "api_key_prefix": record.api_key.prefix if record.api_key else "",
                "voice": record.voice,
                "engine": record.engine,
                "output_format": record.output_format,
                "characters": characters,
                "audio_seconds": seconds,
                "status": UsageRecord.Status.FAILED,
                "request_id": record.request_id,
                "finished_at": now,
            },
        )
    admission = Admission(
        id=str(record.synthesis_id),
        tenant_id=record.tenant_id,
        key_id=record.api_key_id,
        month=month_of(record.started_at),
        allowed=True,
    )
    admission_service.settle_sync(admission, billed_characters=characters)
    UsageRecord.objects.filter(pk=record.pk).update(settled=True)
    logger.warning(
        "closed the usage record of a lost synthesis",
        extra={"synthesis_id": str(record.synthesis_id), "characters": characters},
    )
    return True


def reap(now: datetime | None = None) -> Reaped:
    """One round: open records whose lease is gone are closed; unsettled ones reconciled.
    Redis unreachable: nothing is done (the next round tries again)."""
    now = now or timezone.now()
    closed = reconciled = 0
    try:
        stale = UsageRecord.objects.filter(
            status=UsageRecord.Status.OPEN, started_at__lt=now - _grace()
        ).select_related("api_key")
        for record in stale:
            if admission_service.lease_alive_sync(record.tenant_id, str(record.synthesis_id)):
                continue  # still running: its process renews the lease
            closed += close_lost(record, now)
        unsettled = UsageRecord.objects.filter(settled=False, ended_at__lt=now - UNSETTLED_GRACE)
        for record in unsettled.exclude(status=UsageRecord.Status.OPEN):
            admission_service.reconcile_sync(
                record.tenant_id, month_of(record.started_at), str(record.synthesis_id)
            )
            UsageRecord.objects.filter(pk=record.pk).update(settled=True)
            reconciled += 1
    except (RedisError, OSError):
        logger.warning("the usage reaper could not reach Redis; next round")
    return Reaped(closed=closed, reconciled=reconciled)
