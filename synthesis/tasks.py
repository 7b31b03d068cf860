from __future__ import annotations

from datetime import timedelta

from asgiref.sync import async_to_sync
from celery import Task, shared_task
from django.conf import settings
from django.utils import timezone

from callwaiting_tts.celery import send_to_tenant
from synthesis import reaper
from synthesis.cloning import voice_condition, voice_start_cloning
from synthesis.models import SynthesisRecord
from synthesis.stream import SynthesisFailed
from tenants.db import tenant_connection, tenant_schema
from tenants.models import Tenant
from voices.models import Voice
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


@shared_task(name="synthesis.tasks.reap_usage", ignore_result=True)
def reap_usage() -> dict[str, int]:
    """Closes the usage records of syntheses whose process died (`synthesis.reaper`)."""
    reaped = reaper.reap()
    return {"closed": reaped.closed, "reconciled": reaped.reconciled}


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


@shared_task(name="synthesis.tasks.validate_voice", bind=True, max_retries=3)
def validate_voice(self: Task, voice_id: str, version: int) -> str:
    """Validates an uploaded clip in the tenant's schema (the task's `_schema_name` header):
    the report, the cleaned clip, `validated` or `failed`; then cloning starts where a worker
    of the voice's engine is configured. A failure to run at all (storage down) is retried;
    after the last try the voice is `failed`, never left `validating`."""
    # Here, not at module level: the VAD and the speaker encoder (torch) load in Celery only.
    from voices.validation import voice_validate, voice_validation_failed

    schema_name = _tenant_schema_name("validate_voice")
    try:
        voice = voice_validate(schema_name=schema_name, voice_id=voice_id, version=version)
    except Exception as failure:
        if self.request.retries >= (self.max_retries or 0):
            voice_validation_failed(
                schema_name=schema_name,
                voice_id=voice_id,
                version=version,
                error="The clip could not be validated; upload it again.",
            )
            raise
        raise self.retry(countdown=min(60, 5 * 2**self.request.retries)) from failure
    if voice is None:
        return "gone"
    if voice.status == Voice.Status.VALIDATED:
        voice_start_cloning(schema_name=schema_name, voice_id=voice_id, version=version)
        return "cloning" if voice.engine in settings.TTS_ENGINES else "validated"
    return str(voice.status)


@shared_task(name="synthesis.tasks.clone_validated_voices", ignore_result=True)
def clone_validated_voices() -> int:
    """Starts cloning the voices validated while no worker of their engine was configured, in
    every tenant's schema (Celery beat): adding an XTTS worker to a deployment clones them."""
    started = 0
    schemas = Tenant.objects.exclude(schema_name="public").values_list("schema_name", flat=True)
    for schema_name in schemas:
        with tenant_schema(schema_name):
            waiting = list(
                Voice.objects.filter(
                    status=Voice.Status.VALIDATED, engine__in=settings.TTS_ENGINES
                ).values_list("pk", "version")
            )
        for voice_id, version in waiting:
            started += voice_start_cloning(
                schema_name=schema_name, voice_id=str(voice_id), version=version
            )
    return started


def _tenant_schema_name(task: str) -> str:
    schema_name = tenant_connection().schema_name
    if schema_name == "public":
        raise RuntimeError(f"{task} must run in a tenant schema")
    return str(schema_name)
