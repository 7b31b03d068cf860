"""`usage_record_open` in one round trip (autocommit) and in a savepoint (inside a transaction):
the same row either way, and a failed INSERT leaves the connection usable."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing.models import UsageRecord
from billing.services import usage_record_open
from conftest import TenantFixture


def _fields(tenant: TenantFixture, synthesis_id: uuid.UUID) -> dict[str, Any]:
    return {
        "synthesis_id": synthesis_id,
        "tenant_id": tenant.tenant.pk,
        "api_key_id": None,
        "request_id": "req_open",
        "source": "http",
        "voice": "joe",
        "engine": "piper",
        "output_format": "pcm",
        "sample_rate": 22050,
        "started_at": timezone.now(),
    }


def _as_stored(record: UsageRecord) -> dict[str, Any]:
    row: dict[str, Any] = dict(UsageRecord.objects.filter(pk=record.pk).values().get())
    row.pop("id")
    return row


@pytest.fixture
def tenant(make_tenant: Callable[[str], TenantFixture]) -> TenantFixture:
    return make_tenant("usage-open")


def test_outside_a_transaction_it_is_one_query_and_the_same_row(tenant: TenantFixture) -> None:
    assert connection.get_autocommit()
    assert not connection.in_atomic_block
    with connection.cursor():
        pass  # the schema's search path is set on a connection's first cursor, not counted
    with CaptureQueriesContext(connection) as queries:
        fast = usage_record_open(**_fields(tenant, uuid.uuid4()))
    assert len(queries) == 1, [q["sql"][:80] for q in queries]  # BEGIN; …; COMMIT
    assert "synchronous_commit" in queries[0]["sql"]
    with transaction.atomic():
        slow = usage_record_open(**_fields(tenant, uuid.uuid4()))
    assert fast.pk is not None
    assert slow.pk is not None
    assert fast.pk != slow.pk
    stored_fast, stored_slow = _as_stored(fast), _as_stored(slow)
    for row in (stored_fast, stored_slow):
        row.pop("synthesis_id")
        row.pop("started_at")
    assert stored_fast == stored_slow
    assert stored_fast["status"] == "open"
    assert stored_fast["characters_billed"] == 0


def test_a_failed_insert_raises_and_leaves_the_connection_usable(tenant: TenantFixture) -> None:
    synthesis_id = uuid.uuid4()
    usage_record_open(**_fields(tenant, synthesis_id))
    with pytest.raises(IntegrityError):
        usage_record_open(**_fields(tenant, synthesis_id))  # synthesis_id is unique
    assert UsageRecord.objects.filter(synthesis_id=synthesis_id).count() == 1
    assert connection.get_autocommit()
    assert not connection.in_atomic_block
