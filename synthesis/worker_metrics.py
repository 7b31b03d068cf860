"""What a TTS worker records in its metrics (`callwaiting_tts.tts_metrics`, served on its own
port): one call per event of the worker's loop, so the loop reads as it did."""

from __future__ import annotations

import sys
import time
from typing import Any

from callwaiting_tts import tts_metrics
from synthesis.contract import messages


def chunks_made(engine: str, seconds: float, samples: list[int], rate: int) -> None:
    """An engine call of `seconds` made chunks of these many samples: each chunk's real-time
    factor is the call's time over the audio it made (a batched step's time is shared)."""
    audio = sum(samples) / rate
    if audio <= 0:
        return
    factor = seconds / audio
    histogram = tts_metrics.REAL_TIME_FACTOR.labels(engine=engine)
    for _ in samples:
        histogram.observe(factor)


def job_taken(engine: str, meta: dict[str, Any], *, active: int) -> None:
    """A job this worker took (`active` now run here): how long it waited since a web process
    dispatched it (wall clocks of two hosts; a negative difference from clock skew counts as
    no wait)."""
    tts_metrics.WORKER_ACTIVE_JOBS.labels(engine=engine).set(active)
    dispatched = meta.get("dispatched_at")
    if isinstance(dispatched, int | float):
        waited = max(0.0, time.time() - float(dispatched))
        tts_metrics.QUEUE_WAIT.labels(engine=engine).observe(waited)


def job_ended(engine: str, kind: str | None, *, active: int) -> None:
    """`kind`: the message that ended it (done, error) or None (cancelled, stalled); `active`:
    the jobs still run here."""
    tts_metrics.WORKER_ACTIVE_JOBS.labels(engine=engine).set(active)
    outcome = {messages.DONE: "done", messages.ERROR: "failed"}.get(kind or "", "cancelled")
    tts_metrics.WORKER_JOBS.labels(engine=engine, outcome=outcome).inc()


def beat(engine: str, *, capacity: int) -> None:
    tts_metrics.WORKER_HEARTBEATS.labels(engine=engine).inc()
    tts_metrics.WORKER_CAPACITY.labels(engine=engine).set(capacity)
    gpu_memory(engine)


def gpu_memory(engine: str) -> None:
    """torch's CUDA memory, when this process has torch loaded with a GPU (XTTS on a GPU);
    nothing otherwise: torch is never imported for this."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available() or not torch.cuda.is_initialized():
        return
    tts_metrics.GPU_MEMORY.labels(engine=engine, kind="allocated").set(
        torch.cuda.memory_allocated()
    )
    tts_metrics.GPU_MEMORY.labels(engine=engine, kind="reserved").set(torch.cuda.memory_reserved())
