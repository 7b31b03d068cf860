"""Roll-ups equal the raw sums of the usage records, per bucket, tenant, key and voice, and
recomputing a range is idempotent."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from billing.models import UsageRecord, UsageRollup
from billing.rollups import bucket_floor, rollup_usage
from billing.tasks import rollup_recent_days, rollup_recent_hours
from billing.tasks import rollup_usage as rollup_usage_task
from billing.tests.conftest import record
from tenants.models import ApiKey

pytestmark = pytest.mark.django_db

START = datetime(2025, 11, 1, tzinfo=UTC)
CLOSED = ["completed", "cancelled", "failed"]


def raw_sums(granularity: str, start: datetime, end: datetime) -> dict:
    sums: dict = defaultdict(lambda: [0, 0, 0.0])
    for r in UsageRecord.objects.filter(started_at__gte=start, started_at__lt=end):
        entry = sums[(bucket_floor(r.started_at, granularity), r.tenant_id, r.api_key_id, r.voice)]
        entry[0] += 1
        entry[1] += r.characters_billed
        entry[2] += r.audio_seconds_delivered
    return {k: (v[0], v[1], round(v[2], 6)) for k, v in sums.items()}


def rolled(granularity: str) -> dict:
    return {
        (r.bucket_start, r.tenant_id, r.api_key_id, r.voice): (
            r.requests,
            r.characters,
            round(r.audio_seconds_delivered, 6),
        )
        for r in UsageRollup.objects.filter(granularity=granularity)
    }


@pytest.fixture
def usage(tenant_a, tenant_b):
    rng = random.Random(6)
    keys = [None, *ApiKey.objects.filter(tenant=tenant_a.tenant)[:1]]
    for _ in range(300):
        tenant = rng.choice([tenant_a.tenant, tenant_b.tenant])
        record(
            tenant,
            at=START + timedelta(seconds=rng.randrange(3 * 86400)),
            characters=rng.randrange(1, 5000),
            delivered=rng.random() * 10,
            voice=rng.choice(["joe", "amy"]),
            api_key=rng.choice(keys) if tenant == tenant_a.tenant else None,
            status=rng.choice(CLOSED),
        )


@pytest.mark.parametrize("granularity", ["hour", "day"])
def test_rollups_equal_the_raw_sums(usage, granularity):
    end = START + timedelta(days=3)
    rollup_usage(granularity, START, end)
    assert rolled(granularity) == raw_sums(granularity, START, end)
    assert sum(r.requests for r in UsageRollup.objects.filter(granularity=granularity)) == 300


def test_recomputing_is_idempotent_and_picks_up_late_records(usage, tenant_a):
    end = START + timedelta(days=3)
    rollup_usage("hour", START, end)
    rollup_usage("hour", START, end)
    assert rolled("hour") == raw_sums("hour", START, end)

    record(tenant_a.tenant, at=START + timedelta(hours=5, minutes=1), characters=9)
    rollup_usage_task(
        "hour", (START + timedelta(hours=5)).isoformat(), (START + timedelta(hours=6)).isoformat()
    )
    assert rolled("hour") == raw_sums("hour", START, end)


def test_a_range_is_widened_to_whole_buckets_and_others_are_untouched(usage):
    rollup_usage("day", START, START + timedelta(days=3))
    other_days = rolled("day")
    rollup_usage("day", START + timedelta(days=1, hours=5), START + timedelta(days=1, hours=6))
    assert rolled("day") == other_days
    assert UsageRollup.objects.filter(granularity="hour").count() == 0


def test_the_scheduled_tasks_roll_up_the_latest_buckets(tenant_a):
    now = timezone.now()
    record(tenant_a.tenant, at=now - timedelta(minutes=1), characters=11)
    record(tenant_a.tenant, at=now - timedelta(hours=1), characters=22)
    rollup_recent_hours()
    rollup_recent_days()
    hours = UsageRollup.objects.filter(granularity="hour", tenant=tenant_a.tenant)
    assert sum(r.characters for r in hours) == 33
    days = UsageRollup.objects.filter(granularity="day", tenant=tenant_a.tenant)
    assert sum(r.characters for r in days) == 33


def test_the_backfill_command_rolls_up_both_granularities(tenant_a):
    record(tenant_a.tenant, at=timezone.now() - timedelta(hours=30), characters=5)
    call_command("rollup_usage", "--days", "2")
    for granularity in ("hour", "day"):
        rows = UsageRollup.objects.filter(granularity=granularity, tenant=tenant_a.tenant)
        assert sum(r.characters for r in rows) == 5


def test_open_records_count_once_closed(tenant_a):
    hour = START + timedelta(hours=3)
    record(tenant_a.tenant, at=hour, characters=4)
    running = record(tenant_a.tenant, at=hour + timedelta(minutes=5), characters=600, status="open")

    rows = UsageRollup.objects.filter(tenant=tenant_a.tenant).values_list("requests", "characters")

    rollup_usage("hour", hour, hour + timedelta(hours=1))
    assert list(rows.all()) == [(1, 4)]

    UsageRecord.objects.filter(pk=running.pk).update(status="completed")
    rollup_usage("hour", hour, hour + timedelta(hours=1))
    assert list(rows.all()) == [(2, 604)]
