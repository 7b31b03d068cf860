"""The raw engine, without the service: what a worker's PiperEngine does by itself.

First-chunk times are taken in the bench process (one PiperEngine, threads=1, the service's
default noise). Parallel throughput runs each session in its own spawned process (as the service
runs one single-threaded worker per core), started together on a barrier.
"""

from __future__ import annotations

import multiprocessing
import queue
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from multiprocessing.queues import Queue
    from multiprocessing.synchronize import Barrier

    from synthesis.contract.segments import Segment
    from synthesis.engines.base import Engine


def service_segments(text: str) -> list[Segment]:
    """The segments `synthesis.services` sends for plain text with the joe voice at speed 1:
    the same front-end (normalization, the short first clause) and the same engine mapping."""
    from synthesis.contract.plan import engine_segments
    from synthesis.text.frontend import prepare

    return engine_segments(prepare(text=text, locale="en-US"), language="en-US")


def load_engine() -> Engine:
    """PiperEngine as a worker loads it (threads=1, default noise), warmed up."""
    from synthesis.engines.loader import load_engine as load

    engine = load("piper", threads=1)
    engine.warm_up()
    return engine


def first_chunk_seconds(engine: Engine, segments: Sequence[Segment]) -> float:
    started = time.perf_counter()
    chunks = engine.stream(segments, voice="joe")
    next(chunks)
    elapsed = time.perf_counter() - started
    close = getattr(chunks, "close", None)
    if close is not None:
        close()
    return elapsed


@dataclass(frozen=True)
class SessionRun:
    started: float  # time.monotonic(), shared by all processes on the machine
    ended: float
    samples: int
    sample_rate: int
    cpu_seconds: float  # of the session's process over the run

    @property
    def audio_seconds(self) -> float:
        return self.samples / self.sample_rate

    @property
    def rate(self) -> float:
        return self.audio_seconds / (self.ended - self.started)


@dataclass(frozen=True)
class ParallelRun:
    sessions: list[SessionRun]

    @property
    def audio_seconds(self) -> float:
        return sum(s.audio_seconds for s in self.sessions)

    @property
    def wall_seconds(self) -> float:
        return max(s.ended for s in self.sessions) - min(s.started for s in self.sessions)

    @property
    def cpu_per_audio_second(self) -> float:
        return sum(s.cpu_seconds for s in self.sessions) / self.audio_seconds

    @property
    def rate(self) -> float:
        """Audio seconds per wall second, all sessions together (each one's own rate over its
        own span, so a session ending a sentence later does not idle the other)."""
        return sum(s.rate for s in self.sessions)


def _session(
    text: str,
    duration: float,
    barrier: Barrier,
    results: Queue[tuple[float, float, int, int, float]],
) -> None:
    engine = load_engine()
    segments = service_segments(text)
    barrier.wait()
    cpu = time.process_time()
    started = time.monotonic()
    deadline = started + duration
    samples = 0
    while True:  # whole chunks (sentences) until the first one that ends past the deadline
        for chunk in engine.stream(segments, voice="joe"):
            samples += chunk.samples
            if time.monotonic() >= deadline:
                break
        else:
            continue
        break
    ended = time.monotonic()
    results.put((started, ended, samples, engine.sample_rate, time.process_time() - cpu))


def parallel_throughput(text: str, sessions: int, duration: float) -> ParallelRun:
    """`sessions` processes, each synthesizing `text` over and over for about `duration` s."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(sessions)
    results: Queue[tuple[float, float, int, int, float]] = context.Queue()
    processes = [
        context.Process(target=_session, args=(text, duration, barrier, results), daemon=True)
        for _ in range(sessions)
    ]
    for process in processes:
        process.start()
    runs: list[SessionRun] = []
    try:
        deadline = time.monotonic() + duration + 180
        while len(runs) < sessions:
            if time.monotonic() > deadline:
                raise RuntimeError("raw engine sessions did not finish")
            try:
                runs.append(SessionRun(*results.get(timeout=1)))
            except queue.Empty:
                if any(p.exitcode not in (None, 0) for p in processes):
                    raise RuntimeError("a raw engine session failed") from None
    finally:
        for process in processes:
            process.join(10)
            if process.is_alive():
                process.kill()
                process.join()
    return ParallelRun(runs)
