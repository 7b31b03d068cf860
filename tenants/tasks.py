from __future__ import annotations

from datetime import UTC, datetime

from celery import shared_task
from django.db.models import Q

from callwaiting_tts.redis import get_redis, key
from tenants.models import ApiKey


@shared_task(name="tenants.tasks.flush_api_key_last_used", ignore_result=True)
def flush_api_key_last_used() -> int:
    """Writes the last-used times buffered by authentication to the database, one UPDATE per key
    per flush instead of one per request. Returns how many keys were updated."""
    client = get_redis()
    buffer, claimed = key("apikey", "last_used"), key("apikey", "last_used", "flushing")
    try:
        client.rename(buffer, claimed)  # atomic hand-off: uses after this land in a new buffer
    except Exception as error:  # redis raises ResponseError "no such key" for an empty buffer
        if "no such key" in str(error).lower():
            return 0
        raise
    entries = client.hgetall(claimed)
    client.delete(claimed)
    updated = 0
    for key_id, stamp in entries.items():
        when = datetime.fromtimestamp(float(stamp), UTC)
        updated += ApiKey.objects.filter(
            Q(last_used_at__lt=when) | Q(last_used_at__isnull=True), pk=int(key_id)
        ).update(last_used_at=when)
    return updated
