from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from callwaiting_tts.celery import send_to_tenant
from synthesis.models import SynthesisRecord
from tenants.db import tenant_connection
from tenants.models import Tenant


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
