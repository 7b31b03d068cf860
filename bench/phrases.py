"""`phrases`: first audio of a phrase said again (the phrase cache, docs/phrase-cache.md) against
the same phrase synthesized, over HTTP, in one run.

daphne restarts with the cache on (every other section runs with it off, so that they measure
the engine); one worker. The sentence is requested once to fill the cache, then, in alternating
order with a pause before each, the same sentence with `cache: true` (a hit: no worker) and with
`cache: false` (the worker speaks it), `ttfb_requests` times each. Beside them, the same
request with a `cache` value that is no boolean: its 400 (after authentication and the body's
parse, before any synthesis) is the floor the HTTP stack sets on this machine in this run.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from bench.base import MeasureError, error_counts
from bench.client import Reply
from bench.report import Row, percentile, ratio, verdict
from bench.stack import log
from bench.texts import SENTENCE

if TYPE_CHECKING:
    from bench.base import Bench

CACHED_TARGET_MS = 10.0
SETTLE_SECONDS = 0.3
CACHE_BYTES = 64 * 1024 * 1024


def measure_phrases(bench: Bench) -> None:
    bench.stack.restart_daphne(TTS_PHRASE_CACHE_BYTES=str(CACHE_BYTES))
    try:
        bench.ensure_workers(1, fresh=True)
        _measure(bench)
    finally:
        bench.stack.restart_daphne()  # later sections measure the engine, cache off


def _measure(bench: Bench) -> None:
    for _ in range(max(1, bench.options.warmups)):
        bench.request(SENTENCE, cache=True)  # the first fills the cache
        bench.request(SENTENCE, cache=False)
    times: dict[bool, list[float]] = {True: [], False: []}
    floor: list[float] = []
    failed: list[Reply] = []
    log(f"phrases: {bench.options.ttfb_requests} cached and uncached requests in turn")
    for number in range(bench.options.ttfb_requests):
        for cache in (True, False) if number % 2 == 0 else (False, True):
            time.sleep(SETTLE_SECONDS)
            reply = bench.request(SENTENCE, cache=cache)
            if reply.ok and reply.ttfb is not None:
                times[cache].append(reply.ttfb)
            else:
                failed.append(reply)
        time.sleep(SETTLE_SECONDS)
        refused = bench.request(SENTENCE, cache="no")
        if refused.status == 400:
            floor.append(refused.total)
    if not times[True] or not times[False]:
        raise MeasureError(f"phrases: requests failed: {error_counts(failed)}")
    cached, uncached = (percentile(times[c], 50) * 1000 for c in (True, False))
    bench.details["phrases"] = {
        "cached_ttfb_ms": [round(t * 1000, 2) for t in times[True]],
        "uncached_ttfb_ms": [round(t * 1000, 2) for t in times[False]],
        "refused_400_ms": [round(t * 1000, 2) for t in floor],
        "errors": error_counts(failed),
    }
    bench.rows.append(
        Row(
            section="phrases",
            label="cached first audio, sentence, p50",
            ours=cached,
            reference=uncached,
            reference_label="same request, cache: false",
            unit="ms",
            ratio=ratio(cached, uncached),
            target=f"< {CACHED_TARGET_MS:.0f} ms",
            verdict=verdict(cached <= CACHED_TARGET_MS),
            note=f"p95 cached {percentile(times[True], 95) * 1000:.1f} ms, uncached "
            f"{percentile(times[False], 95) * 1000:.1f} ms; n={len(times[True])}",
        )
    )
    if floor:
        least = percentile(floor, 50) * 1000
        bench.rows.append(
            Row(
                section="phrases",
                label="a refused request (400 before synthesis), p50",
                ours=least,
                reference=cached,
                reference_label="cached first audio p50",
                unit="ms",
                ratio=ratio(least, cached),
                note="the HTTP stack's floor here: auth, the body's parse, the error answer",
            )
        )
