"""What a listener hears of a stream: its chunks' arrival times against a player that starts
with the first chunk and then plays on a fixed clock. Pure Python, no torch: the verdicts are
tested without a model.

A stream is *real time* when it finished and no chunk arrived more than `UNDERRUN_S` after the
player needed it: chunk k is due at `first arrival + (samples before it) / rate`, and its
lateness is its arrival less that. The clock never waits, so the largest lateness is also the
total stall a player that waits would have added: one number covers both "faster than real
time" and "no underrun over 100 ms".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from bench.report import percentile

UNDERRUN_S = 0.100


@dataclass
class StreamTrace:
    """One stream as a runner saw it: `(seconds since the stream was asked for, samples)` for
    each chunk in order, and whether its last chunk came (a runner may stop a level early)."""

    chunks: list[tuple[float, int]] = field(default_factory=list)
    complete: bool = False

    def add(self, at: float, samples: int) -> None:
        self.chunks.append((at, samples))

    @property
    def first_chunk_s(self) -> float | None:
        return self.chunks[0][0] if self.chunks else None

    @property
    def samples(self) -> int:
        return sum(samples for _at, samples in self.chunks)

    def lateness_s(self, rate: int) -> float:
        """The latest any chunk came after the player needed it (0 when none was late)."""
        if not self.chunks:
            return 0.0
        start = self.chunks[0][0]
        played = 0
        worst = 0.0
        for at, samples in self.chunks:
            worst = max(worst, at - (start + played / rate))
            played += samples
        return worst

    def lateness_at_s(self, now: float, rate: int) -> float:
        """How late the next chunk already is at `now` (since the stream was asked for): it
        can only grow, so a stream past `UNDERRUN_S` here has failed whatever comes next."""
        if self.complete or not self.chunks:
            return self.lateness_s(rate)
        start = self.chunks[0][0]
        return max(self.lateness_s(rate), now - (start + self.samples / rate))

    def realtime(self, rate: int) -> bool:
        return self.complete and self.lateness_s(rate) <= UNDERRUN_S


def decided(traces: Sequence[StreamTrace], now: float, rate: int) -> bool:
    """Whether every stream's verdict is known at `now`: each finished, or has its first chunk
    and is already too late to be real time. A runner may stop the level then."""
    return all(
        trace.complete or (trace.chunks and trace.lateness_at_s(now, rate) > UNDERRUN_S)
        for trace in traces
    )


@dataclass(frozen=True)
class LevelSummary:
    """Every round of one concurrency level, pooled."""

    streams: int
    rounds: int
    first_chunk_p50_s: float | None
    first_chunk_p95_s: float | None
    first_chunk_missing: int  # streams stopped before their first chunk (the level's time cap)
    realtime_streams: int  # of measured_streams
    measured_streams: int  # streams times rounds
    lateness_p95_s: float | None
    audio_s: float
    wall_s: float
    aggregate_rtf: float | None  # wall seconds per audio second, all streams together
    stopped_early: bool

    @property
    def all_realtime(self) -> bool:
        return self.measured_streams > 0 and self.realtime_streams == self.measured_streams


def summarize(
    streams: int, rounds: Sequence[tuple[Sequence[StreamTrace], float]], rate: int
) -> LevelSummary:
    """`rounds`: each round's traces and its wall time (from asking to the last chunk)."""
    traces = [trace for round_traces, _wall in rounds for trace in round_traces]
    firsts = [t.first_chunk_s for t in traces if t.first_chunk_s is not None]
    lateness = [t.lateness_s(rate) for t in traces if t.chunks]
    audio_s = sum(t.samples for t in traces) / rate
    wall_s = sum(wall for _traces, wall in rounds)
    return LevelSummary(
        streams=streams,
        rounds=len(rounds),
        first_chunk_p50_s=percentile(firsts, 50) if firsts else None,
        first_chunk_p95_s=percentile(firsts, 95) if firsts else None,
        first_chunk_missing=len(traces) - len(firsts),
        realtime_streams=sum(t.realtime(rate) for t in traces),
        measured_streams=len(traces),
        lateness_p95_s=percentile(lateness, 95) if lateness else None,
        audio_s=audio_s,
        wall_s=wall_s,
        aggregate_rtf=wall_s / audio_s if audio_s else None,
        stopped_early=not all(t.complete for t in traces),
    )
