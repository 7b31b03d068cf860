"""Celery tasks run by a real worker (in a thread of this process) over the real Redis broker,
each in the schema its message names."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.test import Client
from django.utils import timezone

from callwaiting_tts.celery import app, send_to_tenant
from synthesis.models import SynthesisRecord
from synthesis.tasks import purge_all_synthesis_logs, purge_synthesis_log
from tenants.db import tenant_schema
from tenants.models import ApiKey
from tenants.tasks import flush_api_key_last_used

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def worker(transactional_db):
    with start_worker(
        app, pool="solo", concurrency=1, perform_ping_check=False, shutdown_timeout=10
    ):
        yield


@pytest.fixture
def two_logs(make_tenant):
    tenants = make_tenant("logs-a"), make_tenant("logs-b")
    for fixture in tenants:
        with tenant_schema(fixture.tenant.schema_name):
            old = SynthesisRecord.objects.create(voice="joe", characters=10)
            SynthesisRecord.objects.filter(pk=old.pk).update(
                created_at=timezone.now() - timedelta(days=100)
            )
            SynthesisRecord.objects.create(voice="joe", characters=20)
    return tenants


def counts(fixture):
    with tenant_schema(fixture.tenant.schema_name):
        return SynthesisRecord.objects.count()


def wait_until(condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_purge_runs_in_the_schema_the_message_names(worker, two_logs):
    a, b = two_logs
    result = send_to_tenant(purge_synthesis_log, a.tenant.schema_name, 90)
    assert result.get(timeout=20) == 1
    assert counts(a) == 1
    assert counts(b) == 2


def test_purge_refuses_the_public_schema(worker):
    result = purge_synthesis_log.delay(90)  # sent from the public schema
    with pytest.raises(RuntimeError, match="tenant schema"):
        result.get(timeout=20)


def test_the_fan_out_purges_every_tenant(worker, two_logs, settings):
    settings.SYNTHESIS_LOG_RETENTION_DAYS = 30
    purge_all_synthesis_logs.delay()
    assert wait_until(lambda: [counts(t) for t in two_logs] == [1, 1])


def test_last_used_times_are_flushed_from_redis_to_the_database(worker, make_tenant):
    fixture = make_tenant("lastused")
    before = timezone.now()
    assert Client(headers={"X-API-Key": fixture.api_key}).get("/v1/me").status_code == 200
    api_key = ApiKey.objects.get(prefix=fixture.api_key.split("_")[1])
    assert api_key.last_used_at is None
    flush_api_key_last_used.delay()
    assert wait_until(lambda: ApiKey.objects.get(pk=api_key.pk).last_used_at is not None)
    last_used = ApiKey.objects.get(pk=api_key.pk).last_used_at
    assert last_used is not None
    assert last_used >= before - timedelta(seconds=1)
