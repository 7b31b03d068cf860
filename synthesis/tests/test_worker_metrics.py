"""What a worker records per event (synthesis.worker_metrics), read back from the registry."""

from __future__ import annotations

import time

import pytest

from callwaiting_tts import tts_metrics
from synthesis import worker_metrics
from synthesis.contract import messages

ENGINE = "test-engine"


def histogram(metric, **labels: str) -> tuple[float, float]:
    """(count, sum) of a labelled histogram."""
    samples = {s.name: s.value for f in metric.collect() for s in f.samples if s.labels == labels}
    return samples.get(f"{metric._name}_count", 0.0), samples.get(f"{metric._name}_sum", 0.0)


def counter(metric, **labels: str) -> float:
    return metric.labels(**labels)._value.get()


def test_a_batched_step_shares_its_time_among_the_chunks_it_made():
    before = histogram(tts_metrics.REAL_TIME_FACTOR, engine=ENGINE)
    # 0.5 s of compute made 1 s + 1.5 s of audio at 24 kHz: each chunk's factor is 0.2.
    worker_metrics.chunks_made(ENGINE, 0.5, [24000, 36000], 24000)
    count, total = histogram(tts_metrics.REAL_TIME_FACTOR, engine=ENGINE)
    assert count - before[0] == 2
    assert total - before[1] == pytest.approx(0.4)


def test_a_step_that_made_no_audio_records_nothing():
    before = histogram(tts_metrics.REAL_TIME_FACTOR, engine=ENGINE)
    worker_metrics.chunks_made(ENGINE, 0.5, [], 24000)
    assert histogram(tts_metrics.REAL_TIME_FACTOR, engine=ENGINE) == before


def test_queue_wait_counts_a_clock_ahead_of_ours_as_no_wait():
    before = histogram(tts_metrics.QUEUE_WAIT, engine=ENGINE)
    worker_metrics.job_taken(ENGINE, {"dispatched_at": time.time() + 30}, active=1)
    worker_metrics.job_taken(ENGINE, {}, active=2)  # a job from a web process that does not say
    count, total = histogram(tts_metrics.QUEUE_WAIT, engine=ENGINE)
    assert count - before[0] == 1
    assert total == before[1]


def test_a_job_ends_done_failed_or_cancelled():
    outcomes = ("done", "failed", "cancelled")
    before = {o: counter(tts_metrics.WORKER_JOBS, engine=ENGINE, outcome=o) for o in outcomes}
    for kind in (messages.DONE, messages.ERROR, messages.ERROR, None):
        worker_metrics.job_ended(ENGINE, kind, active=0)
    after = {o: counter(tts_metrics.WORKER_JOBS, engine=ENGINE, outcome=o) for o in outcomes}
    assert {o: after[o] - before[o] for o in outcomes} == {"done": 1, "failed": 2, "cancelled": 1}


def test_without_a_gpu_no_gpu_memory_is_reported():
    worker_metrics.beat(ENGINE, capacity=3)
    assert counter(tts_metrics.WORKER_CAPACITY, engine=ENGINE) == 3
    reported = {s.labels.get("engine") for f in tts_metrics.GPU_MEMORY.collect() for s in f.samples}
    assert ENGINE not in reported
