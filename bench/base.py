"""What every section's measurement is given and may raise: the run's options, the `Bench` (the
stack, the rows and the details of the report), `MeasureError`. Its own module so that the
sections (measures.py, memory.py, realtime.py, limits.py) import it and never each other.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench.client import Reply, synthesize, wait_until_ready
from bench.report import Row
from bench.stack import BenchStack, WorkerHandle

# Pause before each timed call, so that it starts on a quiet machine.
SETTLE_SECONDS = 0.3


class MeasureError(RuntimeError):
    """A measurement could not be taken (no successful request): reported, exit non-zero."""


@dataclass
class Options:
    quick: bool = False
    warmups: int = 3
    ttfb_requests: int = 30
    concurrency: int = 20
    throughput_seconds: float = 90.0
    throughput_ramp_seconds: float = 5.0
    raw_seconds: float = 30.0
    peer_requests: int = 20
    rss_requests: int = 1000
    ws_rounds_1: int = 30  # rounds of the sentence at 1 connection
    ws_rounds_10: int = 5  # at 10 connections
    ws_load_levels: tuple[int, ...] = (50, 100)  # connections, one round each
    ws_token_runs: int = 5
    ws_cancel_runs: int = 10
    soak_seconds: float = 60.0
    soak_warmup_seconds: float = 15.0
    soak_sockets: int = 100
    soak_http_rps: float = 20.0

    @classmethod
    def quick_run(cls) -> Options:
        return cls(
            quick=True,
            warmups=1,
            ttfb_requests=5,
            throughput_seconds=20.0,
            throughput_ramp_seconds=3.0,
            raw_seconds=8.0,
            peer_requests=5,
            rss_requests=30,
            ws_rounds_1=5,
            ws_rounds_10=2,
            ws_load_levels=(),
            ws_token_runs=2,
            ws_cancel_runs=3,
            soak_seconds=15.0,
            soak_warmup_seconds=5.0,
            soak_sockets=10,
            soak_http_rps=4.0,
        )


@dataclass
class Bench:
    stack: BenchStack
    options: Options
    rows: list[Row] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    paragraph_ttfb_ms: list[float] = field(default_factory=list)

    def request(self, text: str, **kwargs: Any) -> Reply:
        return synthesize(self.stack.port, self.stack.api_key, text, **kwargs)

    def ensure_workers(self, count: int, *, fresh: bool) -> list[WorkerHandle]:
        if fresh or len(self.stack.workers) != count:
            self.stack.restart_workers(count)
        status = wait_until_ready(self.stack.port, "/v1/health", timeout=30)
        if status != 200:
            raise MeasureError(f"/v1/health answers {status} with {count} worker(s) up")
        return list(self.stack.workers)


def error_counts(replies: list[Reply]) -> dict[str, int]:
    """How many replies failed, by error code (`http_<status>` where the body named none)."""
    return dict(Counter(r.error or f"http_{r.status}" for r in replies if not r.ok))
