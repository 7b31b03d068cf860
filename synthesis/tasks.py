from __future__ import annotations

from datetime import timedelta

from asgiref.sync import async_to_sync
from celery import Task, shared_task
from django.conf import settings
from django.utils import timezone

from callwaiting_tts.celery import send_to_tenant
from synthesis.cloning import voice_condition
from synthesis.models import SynthesisRecord
from synthesis.stream import SynthesisFailed
from tenants.db import tenant_connection
from tenants.models import Tenant
from voices.services import voice_conditioned


@shared_task(name="synthesis.tasks.purge_synthesis_log")
def purge_synthesis_log(retention_days: int) -> int:
    """Deletes this tenant's synthesis log rows older than the retention. Runs in the tenant's
    schema (the task's `_schema_name` header); refuses to run on the public schema."""
    if tenant_connection().schema_name == "public":
        raise RuntimeError("purge_synthesis_log must run in a tenant schema")
    cutoff = timezone.now() - timedelta(days=retention_days)
    deleted, _ = SynthesisRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted


@shared_task(name="synthesis.tasks.purge_all_synthesis_logs", ignore_result=True)
def purge_all_synthesis_logs() -> int:
    """Fans the retention clean-up out to every tenant's schema (Celery beat, hourly)."""
    schemas = Tenant.objects.values_list("schema_name", flat=True)
    for schema_name in schemas:
        send_to_tenant(purge_synthesis_log, schema_name, settings.SYNTHESIS_LOG_RETENTION_DAYS)
    return len(schemas)


@shared_task(name="synthesis.tasks.condition_voice", bind=True, max_retries=6)
def condition_voice(self: Task, voice_id: str, version: int) -> str:
    """Computes a cloned voice's conditioning on a worker of its engine, in the tenant's schema
    (the task's `_schema_name` header). No worker free now: retried with backoff; after the
    last try the voice is `failed` with the reason."""
    schema_name = tenant_connection().schema_name
    if schema_name == "public":
        raise RuntimeError("condition_voice must run in a tenant schema")
    try:
        voice = async_to_sync(voice_condition)(
            schema_name=schema_name, voice_id=voice_id, version=version
        )
    except SynthesisFailed as failure:
        if self.request.retries >= (self.max_retries or 0):
            voice_conditioned(
                schema_name=schema_name, voice_id=voice_id, version=version, error=failure.message
            )
            return "failed"
        raise self.retry(countdown=min(60, 5 * 2**self.request.retries)) from failure
    return voice.status if voice is not None else "gone"
