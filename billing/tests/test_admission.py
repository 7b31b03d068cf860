"""Admission against real Redis (and PostgreSQL for reconciliation): limits hold under 50
concurrent admissions from several processes, leases expire, quota boundaries, idempotent
settle, the month's counter rebuilt from the usage records."""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import redis
from django.conf import settings as django_settings

from billing import admission, leases
from billing.admission import Admission, admit, month_figures, reserve_more, settle, settle_sync
from billing.limits import Limits
from billing.models import UsageRecord
from tenants.principal import Principal

OPEN = Limits(
    requests_per_minute=None,
    key_requests_per_minute=None,
    max_concurrent_streams=1000,
    monthly_characters=None,
    overage_allowed=False,
    max_input_characters=5000,
    max_cloned_voices=0,
    allowed_engines=frozenset(),
    allowed_formats=frozenset(),
)


def principal(tenant_id: int | None = None, key_id: int | None = None) -> Principal:
    tenant_id = tenant_id or random.randint(10**8, 10**9)
    return Principal(
        key_id=key_id or random.randint(10**8, 10**9),
        prefix="test",
        name="test",
        scopes=frozenset({"synthesize"}),
        tenant_id=tenant_id,
        tenant_slug=f"t{tenant_id}",
        tenant_name="t",
        schema_name="public",
        plan_id=0,
    )


def client() -> redis.Redis:
    return redis.Redis.from_url(django_settings.REDIS_URL)


def seed_used(tenant_id: int, used: int) -> None:
    client().set(admission.used_key(tenant_id, admission.month_of()), used, ex=3600)


def lid() -> str:
    return uuid.uuid4().hex


# --- several processes at once ----------------------------------------------------------------


_WORKER = """
import asyncio, json, sys, time, uuid
import django
django.setup()
from billing.admission import admit
from billing.limits import Limits
from tenants.principal import Principal, principal_of

spec = json.loads(sys.argv[1])
sets = {"allowed_engines": frozenset(), "allowed_formats": frozenset()}
limits = Limits(**spec["limits"], **sets)
who = Principal(key_id=spec["key_id"], prefix="p", name="n", scopes=frozenset(),
                   tenant_id=spec["tenant_id"], tenant_slug="t", tenant_name="t",
                   schema_name="public", plan_id=0)

async def run():
    await asyncio.sleep(max(0.0, spec["start_at"] - time.time()))  # all processes at once
    return await asyncio.gather(*(
        admit(who, characters=100, lease_id=uuid.uuid4().hex, limits=limits)
        for _ in range(spec["count"])
    ))

print(json.dumps([[a.allowed, a.code] for a in asyncio.run(run())]))
"""


def admit_from_processes(limits: Limits, tenant_id: int, key_id: int | None = None):
    """50 admissions: 5 processes of 10 concurrent coroutines, released at the same instant."""
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="callwaiting_tts.settings",
        REDIS_PREFIX=django_settings.REDIS_PREFIX,
        REDIS_URL=django_settings.REDIS_URL,
    )
    fields = {k: v for k, v in vars(limits).items() if not isinstance(v, frozenset)}
    spec = {
        "limits": fields,
        "tenant_id": tenant_id,
        "key_id": key_id or random.randint(1, 10**6),
        "count": 10,
        "start_at": time.time() + 6,
    }
    argv = [sys.executable, "-c", _WORKER, json.dumps(spec)]
    workers = [
        subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, cwd=django_settings.BASE_DIR)
        for _ in range(5)
    ]
    results: list[tuple[bool, str]] = []
    for worker in workers:
        out, _ = worker.communicate(timeout=60)
        assert worker.returncode == 0
        results += [(allowed, code) for allowed, code in json.loads(out)]
    return results


def test_the_rate_limit_holds_across_processes():
    tenant_id = random.randint(10**8, 10**9)
    results = admit_from_processes(replace(OPEN, requests_per_minute=17), tenant_id)
    assert len(results) == 50
    assert sum(allowed for allowed, _ in results) == 17
    assert {code for allowed, code in results if not allowed} == {"rate_limit_exceeded"}
    assert client().zcard(admission.rate_key("tenant", tenant_id)) == 17


def test_the_per_key_rate_limit_holds_across_processes():
    tenant_id, key_id = random.randint(10**8, 10**9), random.randint(10**8, 10**9)
    limits = replace(OPEN, requests_per_minute=1000, key_requests_per_minute=9)
    results = admit_from_processes(limits, tenant_id, key_id)
    assert sum(allowed for allowed, _ in results) == 9


def test_the_concurrency_limit_holds_across_processes():
    tenant_id = random.randint(10**8, 10**9)
    results = admit_from_processes(replace(OPEN, max_concurrent_streams=7), tenant_id)
    assert sum(allowed for allowed, _ in results) == 7
    assert {code for allowed, code in results if not allowed} == {"concurrency_limit_exceeded"}
    assert client().zcard(leases.synthesis_key(tenant_id)) == 7


def test_the_quota_holds_across_processes():
    tenant_id = random.randint(10**8, 10**9)
    seed_used(tenant_id, 350)  # + 6 x 100 = 950; a seventh would pass 1,000
    results = admit_from_processes(replace(OPEN, monthly_characters=1000), tenant_id)
    assert sum(allowed for allowed, _ in results) == 6
    assert {code for allowed, code in results if not allowed} == {"quota_exceeded"}


# --- in one process ---------------------------------------------------------------------------


async def test_a_refused_request_consumes_nothing():
    who = principal()
    limits = replace(OPEN, requests_per_minute=3, max_concurrent_streams=1)
    first = await admit(who, characters=10, lease_id=lid(), limits=limits)
    assert first.allowed
    assert first.headers() == {
        "X-RateLimit-Limit": "3",
        "X-RateLimit-Remaining": "2",
        "X-RateLimit-Reset": "60",
    }
    for _ in range(3):  # concurrency refusals leave the rate window alone
        refused = await admit(who, characters=10, lease_id=lid(), limits=limits)
        assert (refused.allowed, refused.code) == (False, "concurrency_limit_exceeded")
        assert refused.remaining == 2
        assert refused.headers()["Retry-After"] == "1"
    await settle(first, billed_characters=10)
    assert (await admit(who, characters=10, lease_id=lid(), limits=limits)).allowed


async def test_a_rate_refusal_says_when_to_come_back():
    who = principal()
    limits = replace(OPEN, requests_per_minute=2)
    for _ in range(2):
        assert (await admit(who, characters=1, lease_id=lid(), limits=limits)).allowed
    refused = await admit(who, characters=1, lease_id=lid(), limits=limits)
    assert (refused.allowed, refused.code, refused.remaining) == (False, "rate_limit_exceeded", 0)
    assert 59 <= refused.retry_after <= 60
    headers = refused.headers()
    assert headers["Retry-After"] == str(refused.retry_after)
    assert headers["X-RateLimit-Limit"] == "2"
    assert headers["X-RateLimit-Remaining"] == "0"
    assert "2 requests per minute" in refused.message


async def test_the_tighter_of_tenant_and_key_limits_is_shown():
    who = principal()
    limits = replace(OPEN, requests_per_minute=100, key_requests_per_minute=5)
    shown = await admit(who, characters=1, lease_id=lid(), limits=limits)
    assert (shown.limit, shown.remaining) == (5, 4)
    other_key = replace(who, key_id=who.key_id + 1)
    assert (await admit(other_key, characters=1, lease_id=lid(), limits=limits)).remaining == 4


async def test_an_expired_lease_frees_its_slot_and_its_reservation(settings):
    settings.LEASE_TTL_MS = 300
    who = principal()
    seed_used(who.tenant_id, 0)
    limits = replace(OPEN, max_concurrent_streams=2, monthly_characters=250)
    held = [await admit(who, characters=100, lease_id=lid(), limits=limits) for _ in range(2)]
    assert all(a.allowed for a in held)
    refused = await admit(who, characters=10, lease_id=lid(), limits=limits)
    assert refused.code == "concurrency_limit_exceeded"
    # The holders died: nobody renews, so within the lease's lifetime both slots free up (a
    # refused admission consumes nothing, so asking again until then changes nothing).
    deadline = time.monotonic() + 5
    while not (again := await admit(who, characters=250, lease_id=lid(), limits=limits)).allowed:
        assert time.monotonic() < deadline, again.code
        await asyncio.sleep(0.02)
    assert again.allowed  # the whole quota: the dead reservations no longer count
    figures = await month_figures(who.tenant_id)
    assert (figures.used, figures.reserved) == (0, 250)


async def test_a_renewed_lease_outlives_its_ttl(settings):
    settings.LEASE_TTL_MS = 300
    who = principal()
    limits = replace(OPEN, max_concurrent_streams=1)
    held = await admit(who, characters=1, lease_id=lid(), limits=limits)
    for _ in range(4):
        await asyncio.sleep(0.15)
        assert await admission.keep(held) == 1  # renewed: a third of 300 ms has passed
    assert not (await admit(who, characters=1, lease_id=lid(), limits=limits)).allowed


async def test_exactly_the_quota_is_admitted_and_one_more_character_is_not():
    who = principal()
    seed_used(who.tenant_id, 900)
    limits = replace(OPEN, monthly_characters=1000)
    over = await admit(who, characters=101, lease_id=lid(), limits=limits)
    assert (over.allowed, over.code) == (False, "quota_exceeded")
    assert "quota (1000)" in over.message
    assert over.retry_after >= 1  # the month's end
    at = await admit(who, characters=100, lease_id=lid(), limits=limits)
    assert at.allowed
    assert not (await admit(who, characters=1, lease_id=lid(), limits=limits)).allowed
    await settle(at, billed_characters=100)
    assert not (await admit(who, characters=1, lease_id=lid(), limits=limits)).allowed
    assert (await month_figures(who.tenant_id)).used == 1000


async def test_overage_allowed_means_no_hard_stop():
    who = principal()
    seed_used(who.tenant_id, 1000)
    limits = replace(OPEN, monthly_characters=1000, overage_allowed=True)
    assert (await admit(who, characters=500, lease_id=lid(), limits=limits)).allowed


async def test_a_cancelled_synthesis_frees_what_it_did_not_use():
    who = principal()
    seed_used(who.tenant_id, 0)
    limits = replace(OPEN, monthly_characters=1000)
    first = await admit(who, characters=800, lease_id=lid(), limits=limits)
    assert not (await admit(who, characters=300, lease_id=lid(), limits=limits)).allowed
    await settle(first, billed_characters=200)  # cancelled after 200 characters' audio
    assert (await admit(who, characters=800, lease_id=lid(), limits=limits)).allowed


async def test_settle_is_idempotent():
    who = principal()
    seed_used(who.tenant_id, 50)
    limits = replace(OPEN, monthly_characters=1000, max_concurrent_streams=1)
    held = await admit(who, characters=100, lease_id=lid(), limits=limits)
    assert await settle(held, billed_characters=60)
    assert not await settle(held, billed_characters=60)
    assert not await asyncio.to_thread(settle_sync, held, billed_characters=60)
    copy = replace(held, settled=False)  # another path holding the same admission
    assert not await settle(copy, billed_characters=60)
    figures = await month_figures(who.tenant_id)
    assert (figures.used, figures.reserved) == (110, 0)
    assert client().zcard(leases.synthesis_key(who.tenant_id)) == 0


async def test_a_refusal_settles_to_nothing():
    who = principal()
    limits = replace(OPEN, max_concurrent_streams=0)
    refused = await admit(who, characters=5, lease_id=lid(), limits=limits)
    assert not await settle(refused, billed_characters=5)


async def test_a_realtime_reservation_grows_up_to_the_quota_and_no_further():
    who = principal()
    seed_used(who.tenant_id, 0)
    limits = replace(OPEN, monthly_characters=100)
    context = await admit(who, characters=0, lease_id=lid(), limits=limits)
    assert await reserve_more(context, 60)
    assert await reserve_more(context, 40)  # exactly at the quota
    assert not await reserve_more(context, 1)
    assert context.reserved == 100
    assert not (await admit(who, characters=1, lease_id=lid(), limits=limits)).allowed
    await settle(context, billed_characters=30)
    assert (await month_figures(who.tenant_id)).used == 30


async def test_without_a_quota_reserving_is_free():
    context = await admit(principal(), characters=0, lease_id=lid(), limits=OPEN)
    assert await reserve_more(context, 10**9)


def test_the_deployment_setting_replaces_the_plans_concurrency_when_set(settings):
    settings.TTS_MAX_CONCURRENT_PER_TENANT = None  # the default: the plan decides
    assert admission.concurrency_limit(replace(OPEN, max_concurrent_streams=3)) == 3
    settings.TTS_MAX_CONCURRENT_PER_TENANT = 1
    assert admission.concurrency_limit(replace(OPEN, max_concurrent_streams=3)) == 1


def test_month_keys_follow_the_calendar_in_utc():
    assert admission.month_of(datetime(2025, 12, 31, 23, 59, tzinfo=UTC)) == "202512"
    east = datetime(2026, 1, 1, 0, 30, tzinfo=UTC).astimezone(
        __import__("zoneinfo").ZoneInfo("Asia/Tokyo")
    )
    assert admission.month_of(east) == "202601"


# --- reconciliation from PostgreSQL -----------------------------------------------------------


def usage_record(tenant, characters: int, started_at: datetime) -> UsageRecord:
    return UsageRecord.objects.create(
        synthesis_id=uuid.uuid4(),
        tenant=tenant,
        source="http",
        characters_billed=characters,
        voice="joe",
        engine="piper",
        output_format="mp3",
        sample_rate=22050,
        status="completed",
        started_at=started_at,
        ended_at=started_at,
    )


@pytest.mark.django_db(transaction=True)
async def test_the_months_counter_is_rebuilt_from_postgresql(make_tenant):
    from channels.db import database_sync_to_async

    tenant = (await database_sync_to_async(make_tenant)("adm")).tenant
    now = datetime.now(UTC)
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)

    def records() -> None:
        usage_record(tenant, 300, now)
        usage_record(tenant, 200, month_start)  # the month's first instant counts
        usage_record(tenant, 999, month_start - timedelta(microseconds=1))  # last month's

    await database_sync_to_async(records)()
    who = principal(tenant.pk)
    client().delete(admission.used_key(tenant.pk, admission.month_of()))  # Redis lost it
    limits = replace(OPEN, monthly_characters=600)
    assert not (await admit(who, characters=101, lease_id=lid(), limits=limits)).allowed
    held = await admit(who, characters=100, lease_id=lid(), limits=limits)
    assert (held.allowed, held.used) == (True, 500)
    # A rebuild never overwrites a live counter (SET NX).
    await settle(held, billed_characters=100)
    assert await admission.rebuild_used(tenant.pk, admission.month_of()) == 600


async def test_settle_does_not_invent_a_missing_counter():
    who = principal()
    seed_used(who.tenant_id, 0)
    held = await admit(
        who, characters=5, lease_id=lid(), limits=replace(OPEN, monthly_characters=9)
    )
    client().delete(admission.used_key(who.tenant_id, admission.month_of()))
    await settle(held, billed_characters=5)  # the usage record in PostgreSQL will say it
    assert client().get(admission.used_key(who.tenant_id, admission.month_of())) is None


def test_admission_dataclass_headers_without_a_rate_limit():
    refused = Admission(id="x", tenant_id=1, key_id=1, month="202501", allowed=False,
                        code="quota_exceeded", retry_after=5)  # fmt: skip
    assert refused.headers() == {"Retry-After": "5"}


async def test_admission_round_trip_is_fast():
    who = principal()
    limits = replace(OPEN, requests_per_minute=10**6, monthly_characters=10**12)
    seed_used(who.tenant_id, 0)
    await settle(await admit(who, characters=1, lease_id=lid(), limits=limits), billed_characters=1)
    started = time.perf_counter()
    for _ in range(200):
        held = await admit(who, characters=10, lease_id=lid(), limits=limits)
        await settle(held, billed_characters=10)
    per_request_ms = (time.perf_counter() - started) * 1000 / 200
    assert per_request_ms < 5
