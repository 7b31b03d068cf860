"""The bench's `soak` section: its underrun and memory arithmetic, and a short soak against the
real service (daphne, a real Piper worker) in which every turn and request is served."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from bench.base import MeasureError
from bench.client import Reply
from bench.soak import (
    Plan,
    Results,
    Turn,
    growth,
    longest_underrun,
    soak,
    summarize,
    turn_interval,
)
from billing.models import UsageRecord
from tests.synth import wait_for

RATE = 1000.0  # bytes per second, to keep the arithmetic readable


def test_frames_in_time_have_no_underrun():
    # 100 ms of audio each, arriving every 100 ms or earlier.
    arrivals = [(10.0, 100), (10.05, 100), (10.2, 100), (10.25, 100)]
    assert longest_underrun(arrivals, RATE) == 0


def test_the_latest_frame_against_playback_is_the_underrun():
    # The third frame is due at 10.2 (200 ms played) and comes at 10.45 (250 ms late); the
    # fourth is due at 10.3 and comes at 10.5 (200 ms late).
    arrivals = [(10.0, 100), (10.1, 100), (10.45, 100), (10.5, 100)]
    assert longest_underrun(arrivals, RATE) == pytest.approx(0.25)
    assert longest_underrun([], RATE) == 0


def test_the_turn_interval_offers_half_the_capacity():
    # 100 sockets of 3 s replies against 15 audio-s/s: 150 audio-s per round at 7.5 audio-s/s.
    assert turn_interval(100, 3.0, 15.0) == pytest.approx(40.0)
    with pytest.raises(MeasureError):
        turn_interval(100, 3.0, 0.0)


def test_growth_compares_the_floor_of_the_last_third_with_the_first():
    warm_up = [(t, 500) for t in range(5)]  # not counted: before the baseline
    # Peaks of jobs in flight come and go; the floor the process returns to rises 10 %.
    first = [(t, 1500 if t % 2 else 1000) for t in range(5, 15)]
    middle = [(t, 1700 if t % 2 else 1050) for t in range(15, 25)]
    last = [(t, 1200 if t % 2 else 1100) for t in range(25, 35)]
    assert growth(warm_up + first + middle + last, baseline_at=5) == pytest.approx(0.1)
    with pytest.raises(MeasureError):
        growth(first[:5], baseline_at=5)


def test_refusals_are_told_apart_from_errors():
    results = Results(
        turns=[
            Turn(0, "done", audio_bytes=10),
            Turn(0, "cancelled", barged=True, audio_bytes=10, underrun=0.3),
            Turn(0, "queue_full"),
            Turn(0, "internal_error"),
        ],
        http=[Reply(200, 0.01, 0.02, 10), Reply(503, None, 0.01, 0, error="no_workers")],
        open_failures=Counter({"open_timeout": 1}),
    )
    summary = summarize(results)
    assert (summary.offered, summary.served) == (7, 3)
    assert summary.refused == Counter({"queue_full": 1, "no_workers": 1})
    assert summary.errors == Counter({"internal_error": 1, "open_timeout": 1})
    assert (summary.streams, summary.smooth) == (2, 1)


@pytest.mark.django_db(transaction=True)
def test_a_short_soak_serves_every_turn_and_request(service, make_tenant, tts_worker):
    tenant = make_tenant("soak")
    port = int(service.url.rsplit(":", 1)[1])
    plan = Plan(seconds=4, warmup=1, sockets=3, turn_interval=2.0, http_rps=2, seed=3)
    url = f"{service.ws_url}/v1/stream"
    results = asyncio.run(soak(url, port, tenant.api_key, plan, pids={}))
    summary = summarize(results)
    assert len(results.turns) >= plan.sockets  # each socket spoke at least once
    assert len(results.http) == 10  # 2 a second for 5 s, on the clock (in a process of its own)
    assert len(results.loop_lag) > 10  # the bench loop's lateness, a tick every 20 ms
    assert summary.errors == Counter()
    assert summary.served == summary.offered
    assert summary.streams == len(results.turns)
    assert all(turn.underrun >= 0 for turn in results.turns)
    # The server saw the same turns: one usage record each, cancelled where the caller's cancel
    # came before the end (a record is closed a moment after its last message: polled).
    said = Counter({"completed": 0, "cancelled": 0})
    said.update({"done": "completed"}.get(t.outcome, t.outcome) for t in results.turns)
    records = UsageRecord.objects.filter(tenant_id=tenant.tenant.pk, source="websocket")

    def recorded() -> bool:
        closed = records.exclude(status=UsageRecord.Status.OPEN)
        return Counter(closed.values_list("status", flat=True)) == said

    assert wait_for(recorded)
