"""Nothing lost (issue #13, points 2 and 9): a usage record from admission on, closed once at the
end whatever fails on the way; leases kept on a timer and never let go of quietly; settles that
fail reconciled from PostgreSQL; the reaper closes what a dead process left open, billing what
its worker reported as sent. A real Piper worker, PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import replace
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from billing import admission, keeper, leases, rollups
from billing.admission import LeaseLost, month_figures, used_key
from billing.limits import Limits
from billing.models import UsageRecord
from callwaiting_tts.redis import get_redis
from synthesis import reaper, services
from synthesis.api import responses
from synthesis.services import (
    SynthesisInput,
    synthesis_admit,
    synthesis_finish,
    synthesis_grow,
    synthesis_start,
)
from synthesis.stream import SynthesisFailed
from tenants.auth import authenticate_api_key

pytestmark = pytest.mark.django_db(transaction=True)

SENTENCES = "Thank you for calling. Your order has shipped. It arrives on Monday. Goodbye."
QUOTA = Limits(None, None, 4, 1000, False, 5000, 0, frozenset(), frozenset())


def http_input(text: str = SENTENCES, **overrides) -> SynthesisInput:
    values = {
        "text": text,
        "ssml": None,
        "voice": None,
        "language": None,
        "speed": 1.0,
        "output_format": "pcm",
        "sample_rate": 22050,
        "source": "http",
    }
    return SynthesisInput(**(values | overrides))


@pytest.fixture
def who(make_tenant):
    fixture = make_tenant("durable")
    return authenticate_api_key(fixture.api_key)


def record_of(synthesis) -> UsageRecord:
    return UsageRecord.objects.get(synthesis_id=synthesis.id)


def lease_score(principal, lease_id: str) -> float | None:
    return get_redis().zscore(leases.synthesis_key(principal.tenant_id), lease_id)


# --- point 9: a record from admission on -------------------------------------------------------


async def test_an_admitted_synthesis_has_an_open_record_until_it_is_closed_once(who, tts_worker):
    synthesis = await synthesis_start(principal=who, data=http_input(), request_id="r1")
    opened = await database_sync_to_async(record_of)(synthesis)
    assert (opened.status, opened.characters_billed, opened.ended_at) == ("open", 0, None)
    body = await responses.whole_audio(synthesis)
    assert body
    closed = await database_sync_to_async(record_of)(synthesis)
    assert closed.status == "completed"
    assert closed.characters_billed == len(SENTENCES)
    assert closed.settled
    assert closed.ended_at is not None
    # A second finish changes nothing (and never makes a second record).
    again = await database_sync_to_async(synthesis_finish)(synthesis, status="failed")
    assert (again.status, again.characters_billed) == ("completed", len(SENTENCES))
    assert (
        await database_sync_to_async(UsageRecord.objects.filter(tenant_id=who.tenant_id).count)()
        == 1
    )


async def test_a_redis_failure_while_closing_the_stream_still_records_the_synthesis(
    who, tts_worker, monkeypatch
):
    """The HTTP body's end once awaited `stream.close()` before recording, with no error
    handling: a Redis failure there lost the usage record."""
    synthesis = await synthesis_start(principal=who, data=http_input(), request_id="r2")

    async def broken_close() -> None:
        raise ConnectionError("Redis went away")

    assert synthesis.stream is not None
    real_close = synthesis.stream.close
    monkeypatch.setattr(synthesis.stream, "close", broken_close)
    chunks = [chunk async for chunk in responses._encoded(synthesis)]
    await real_close()
    assert chunks
    record = await database_sync_to_async(record_of)(synthesis)
    assert (record.status, record.characters_billed) == ("completed", len(SENTENCES))


async def test_a_refusal_after_admission_leaves_a_closed_record_and_frees_the_slot(
    who, monkeypatch
):
    """No worker takes the job: the record is closed as failed, billed 0, the lease released."""

    async def no_worker(*_args, **_kwargs):
        raise SynthesisFailed("no_workers", "No piper TTS worker is running.")

    monkeypatch.setattr(services, "synthesis_open", no_worker)
    with pytest.raises(SynthesisFailed):
        await synthesis_start(principal=who, data=http_input(), request_id="r3")
    records = await database_sync_to_async(list)(
        UsageRecord.objects.filter(tenant_id=who.tenant_id)
    )
    assert [(r.status, r.characters_billed) for r in records] == [("failed", 0)]
    assert get_redis().zcard(leases.synthesis_key(who.tenant_id)) == 0


def test_statements_roll_ups_and_the_quota_skip_open_records(who):
    now = timezone.now()
    common = {
        "tenant_id": who.tenant_id,
        "source": "http",
        "voice": "joe",
        "engine": "piper",
        "output_format": "pcm",
        "sample_rate": 22050,
        "started_at": now,
    }
    UsageRecord.objects.create(
        synthesis_id="00000000-0000-0000-0000-000000000001",
        characters_billed=40,
        status="completed",
        ended_at=now,
        settled=True,
        **common,
    )
    UsageRecord.objects.create(
        synthesis_id="00000000-0000-0000-0000-000000000002",
        characters_billed=0,
        status="open",
        **common,
    )
    assert admission.billed_in_month(who.tenant_id, admission.month_of(now)) == 40
    rollups.rollup_usage("hour", now - timedelta(hours=1), now + timedelta(hours=1))
    from billing.models import UsageRollup

    rows = UsageRollup.objects.filter(tenant_id=who.tenant_id)
    assert [(r.requests, r.characters) for r in rows] == [(1, 40)]


# --- the reaper -------------------------------------------------------------------------------


async def test_the_reaper_closes_a_dead_processs_record_billing_what_the_worker_sent(
    who, tts_worker, settings
):
    """A web process that dies mid-stream: the record stays open and the lease stops being
    renewed. The reaper bills the segments the worker reported as sent, and settles."""
    settings.LEASE_TTL_MS = 1500
    synthesis = await synthesis_start(principal=who, data=http_input(), request_id="r4")
    assert synthesis.stream is not None
    assert synthesis.admission is not None
    got = []
    async for chunk in synthesis.stream.chunks():  # the worker sends two sentences...
        got.append(chunk)
        if len(got) == 2:
            break
    # ...then the process "dies": nothing closes the record, nothing renews the lease.
    keeper.release(synthesis.admission)
    synthesis.admission.settled = True  # (so the keeper thread leaves it alone)
    await synthesis.stream.close()
    await asyncio.sleep(2.0)  # the lease expires; the worker's progress is in Redis
    assert await database_sync_to_async(reaper.reap)() == reaper.Reaped(0, 0)  # too young
    later = timezone.now() + timedelta(seconds=10)
    reaped = await database_sync_to_async(reaper.reap)(later)
    assert reaped.closed == 1
    record = await database_sync_to_async(record_of)(synthesis)
    sent = {chunk.segment for chunk in got}
    expected = sum(synthesis.plan.segments[i].chars for i in sent)
    assert record.status == "failed"
    assert record.error_code == "process_lost"
    assert expected <= record.characters_billed <= synthesis.plan.characters
    assert record.audio_seconds_delivered > 0
    assert record.settled
    figures = await month_figures(who.tenant_id)
    assert figures.used == record.characters_billed
    assert await database_sync_to_async(reaper.reap)(later) == reaper.Reaped(0, 0)  # once


async def test_the_reaper_leaves_a_running_synthesis_alone(who, tts_worker, settings):
    settings.LEASE_TTL_MS = 600
    synthesis = await synthesis_start(principal=who, data=http_input(), request_id="r5")
    await asyncio.sleep(1.5)  # over two lease lives: only the keeper keeps it
    later = timezone.now() + timedelta(seconds=10)
    assert (await database_sync_to_async(reaper.reap)(later)).closed == 0
    await responses.whole_audio(synthesis)
    assert (await database_sync_to_async(record_of)(synthesis)).status == "completed"


async def test_a_settle_that_fails_is_reconciled_from_postgresql(who, tts_worker, monkeypatch):
    """Redis refuses the settle (after its retries): the record says unsettled; the reaper
    drops the counter so the next admission rebuilds it from PostgreSQL, which has the record."""
    month = admission.month_of()
    synthesis = await synthesis_start(principal=who, data=http_input(), request_id="r6")

    def failing(*_args, **_kwargs):
        raise ConnectionError("Redis refused the settle")

    monkeypatch.setattr(admission, "SETTLE_RETRY_DELAYS", (0.0,))
    monkeypatch.setattr(admission, "_sync_script", lambda _source: failing)
    await responses.whole_audio(synthesis)
    monkeypatch.undo()
    record = await database_sync_to_async(record_of)(synthesis)
    assert (record.status, record.settled) == ("completed", False)
    get_redis().set(used_key(who.tenant_id, month), 0)  # the counter is low now
    later = timezone.now() + timedelta(minutes=5)
    assert (await database_sync_to_async(reaper.reap)(later)).reconciled == 1
    assert (await database_sync_to_async(record_of)(synthesis)).settled
    figures = await month_figures(who.tenant_id)
    assert figures.used == len(SENTENCES)


# --- point 2: leases kept on a timer ------------------------------------------------------------


async def test_a_lease_is_kept_alive_while_no_audio_flows(who, settings):
    """HTTP leases were renewed only as chunks arrived, and the queue wait equalled the lease's
    life: a request waiting for a worker (or a long sentence) lost its slot."""
    settings.LEASE_TTL_MS = 600
    synthesis = await synthesis_admit(principal=who, data=http_input(), request_id="r7")
    lease_id = str(synthesis.id)
    await asyncio.sleep(2.0)  # three lease lives, no chunk, no renew call by anyone but the keeper
    score = lease_score(who, lease_id)
    assert score is not None
    assert score > time.time() * 1000
    await database_sync_to_async(synthesis_finish)(synthesis, status="cancelled")
    assert lease_score(who, lease_id) is None
    assert synthesis.admission not in keeper.held()


async def test_an_expired_lease_is_taken_back_with_its_reservation(who):
    held = await admission.admit(who, characters=300, lease_id="lost-1", limits=QUOTA)
    assert held.allowed
    client = get_redis()
    client.zrem(leases.synthesis_key(who.tenant_id), "lost-1")  # expired (process stalled)
    client.hdel(admission.held_key(who.tenant_id, held.month), "lost-1")
    assert await admission.keep(held) == 2
    assert lease_score(who, "lost-1") is not None
    assert (await month_figures(who.tenant_id)).reserved == 300


async def test_an_expired_lease_whose_slot_was_taken_stops_the_synthesis(who):
    limits = replace(QUOTA, max_concurrent_streams=1)
    held = await admission.admit(who, characters=10, lease_id="lost-2", limits=limits)
    get_redis().zrem(leases.synthesis_key(who.tenant_id), "lost-2")
    other = await admission.admit(who, characters=10, lease_id="other", limits=limits)
    assert other.allowed  # the slot went to another request
    assert await admission.keep(held) == 0
    assert held.lost
    synthesis = type("S", (), {"admission": held})()
    with pytest.raises(LeaseLost):
        services.check_admitted(synthesis)


async def test_reserve_more_never_skips_the_quota_because_the_lease_expired(who):
    """`reserve_more` answered True when its lease had gone: text past the quota went through."""
    held = await admission.admit(who, characters=0, lease_id="grow", limits=QUOTA)
    get_redis().zrem(leases.synthesis_key(who.tenant_id), "grow")
    assert not await admission.reserve_more(held, 1001)  # over the 1000 quota: refused
    assert await admission.reserve_more(held, 999)  # the lease was taken back: reserved
    assert (await month_figures(who.tenant_id)).reserved == 999


async def test_a_growing_context_past_the_quota_after_its_lease_expired_is_refused(
    who, monkeypatch
):
    monkeypatch.setattr(admission, "limits_of", _limits(QUOTA))
    monkeypatch.setattr(services, "check_plan", lambda *a, **k: None)
    growing = http_input(text=None, source="websocket")
    synthesis = await synthesis_admit(principal=who, data=growing, request_id="r8")
    get_redis().zrem(leases.synthesis_key(who.tenant_id), str(synthesis.id))
    from callwaiting_tts.errors import ApplicationError

    with pytest.raises(ApplicationError) as refused:
        await synthesis_grow(synthesis, 1001)
    assert refused.value.code == "quota_exceeded"
    await database_sync_to_async(synthesis_finish)(synthesis, status="cancelled")


def _limits(limits: Limits):
    async def limits_of(_principal, _prefetched=None) -> Limits:
        return limits

    return limits_of


# --- point 6: the front-end runs off the event loop ----------------------------------------------


async def test_the_text_front_end_never_runs_on_the_event_loop(who, monkeypatch):
    loop_thread = threading.get_ident()
    ran_in: list[int] = []
    real = services.plan_input

    def watched(*args, **kwargs):
        ran_in.append(threading.get_ident())
        return real(*args, **kwargs)

    monkeypatch.setattr(services, "plan_input", watched)
    synthesis = await synthesis_admit(principal=who, data=http_input(), request_id="r9")
    await database_sync_to_async(synthesis_finish)(synthesis, status="cancelled")
    assert ran_in
    assert loop_thread not in ran_in


def test_admission_without_a_record_is_given_back(who, monkeypatch):
    """PostgreSQL refuses the open record: 503, and the slot and reservation are given back."""
    from django.db import OperationalError

    from callwaiting_tts.errors import ApplicationError

    def refuse(*_args, **_kwargs):
        raise OperationalError("the database went away")

    monkeypatch.setattr(services, "usage_record_open", refuse)
    from asgiref.sync import async_to_sync

    with pytest.raises(ApplicationError) as refused:
        async_to_sync(synthesis_admit)(principal=who, data=http_input(), request_id="r10")
    assert (refused.value.status, refused.value.code) == (503, "service_unavailable")
    assert get_redis().zcard(leases.synthesis_key(who.tenant_id)) == 0


async def test_a_failed_log_row_never_keeps_the_admission_from_settling(
    who, tts_worker, monkeypatch
):
    """The tenant's synthesis log row failed (its schema being dropped): the exception skipped
    the settle, and the lease keeper renewed the lost synthesis's slot for ever."""
    from django.db import DatabaseError

    from synthesis.models import SynthesisRecord

    def refuse(*_args, **_kwargs):
        raise DatabaseError("relation synthesis_synthesisrecord does not exist")

    monkeypatch.setattr(SynthesisRecord.objects, "create", refuse)
    synthesis = await synthesis_start(principal=who, data=http_input(), request_id="r11")
    await responses.whole_audio(synthesis)
    record = await database_sync_to_async(record_of)(synthesis)
    assert (record.status, record.settled) == ("completed", True)
    assert lease_score(who, str(synthesis.id)) is None
    assert synthesis.admission not in keeper.held()


async def test_a_finish_that_fails_lets_the_lease_expire_for_the_reaper(who, monkeypatch):
    """PostgreSQL refuses the close: the record stays open, and its lease is no longer kept
    alive (else the reaper would think it still runs and never close it)."""
    synthesis = await synthesis_admit(principal=who, data=http_input(), request_id="r12")
    assert synthesis.admission in keeper.held()

    def refuse(*_args, **_kwargs):
        raise ConnectionError("the database went away")

    monkeypatch.setattr(services, "synthesis_finish", refuse)
    await services.synthesis_end(synthesis, "completed")
    assert synthesis.admission not in keeper.held()
    assert (await database_sync_to_async(record_of)(synthesis)).status == "open"
