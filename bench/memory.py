"""Section 4: a worker's resident memory over many sequential requests."""

from __future__ import annotations

import statistics
import time

from bench.base import Bench, MeasureError, error_counts
from bench.client import Reply
from bench.report import INFO, Row, verdict
from bench.stack import log
from bench.texts import VARIED, words

RSS_TARGET = 0.10


def _slope(points: list[tuple[int, int]]) -> float:
    if len(points) < 2:
        return 0.0
    mean_x = statistics.fmean(x for x, _ in points)
    mean_y = statistics.fmean(y for _, y in points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread if spread else 0.0


def _rss_at(readings: list[tuple[int, int]], number: int) -> float:
    """RSS "after `number` requests", in MiB: the median of the readings after the last five
    requests up to it (one of each text). A single reading depends on what the worker's
    allocator kept from the request before it, tens of MiB either way."""
    window = [kib for n, kib in readings if number - len(VARIED) < n <= number]
    return statistics.median(window) / 1024


def measure_rss(bench: Bench) -> None:
    options = bench.options
    total = max(options.rss_requests, 2 * len(VARIED) + 1)
    bench.ensure_workers(1, fresh=True)
    worker = bench.stack.workers[0]
    at_start = worker.rss_kib()
    readings: list[tuple[int, int]] = []  # after each request
    failed: list[Reply] = []
    audio = 0.0
    lengths = ", ".join(str(words(t)) for t in VARIED)
    log(f"rss: {total} sequential requests cycling {len(VARIED)} texts ({lengths} words)")
    started = time.monotonic()
    for number in range(1, total + 1):
        reply = bench.request(VARIED[(number - 1) % len(VARIED)])
        if reply.ok:
            audio += reply.audio_seconds
        else:
            failed.append(reply)
        if worker.process.poll() is not None:
            raise MeasureError(f"rss: the worker exited with {worker.process.returncode}")
        readings.append((number, worker.rss_kib()))
        if number % 100 == 0:
            elapsed = time.monotonic() - started
            eta = elapsed / number * (total - number)
            now = _rss_at(readings, number)
            log(f"rss: {number}/{total}, {now:.1f} MiB, about {eta:.0f} s left")
    elapsed = time.monotonic() - started
    after_10 = _rss_at(readings, 10)
    after_all = _rss_at(readings, total)
    growth = (after_all - after_10) / after_10
    slope = _slope([(n, kib) for n, kib in readings if n >= 10])  # KiB per request
    peak = max(kib for _, kib in readings) / 1024
    bench.details["rss"] = {
        "requests": total,
        "seconds": elapsed,
        "audio_seconds": audio,
        "rss_kib_at_start": at_start,
        "rss_kib_after_each_request": [kib for _, kib in readings],
        "kib_per_request": slope,
        "peak_mib": peak,
        "errors": error_counts(failed),
    }
    bench.rows.append(
        Row(
            section="rss",
            label="Worker RSS after 10 requests",
            ours=after_10,
            reference=None,
            reference_label="",
            unit="MiB",
            ratio=None,
            verdict=INFO,
            note=f"at start (warmed up, no request): {at_start / 1024:.1f} MiB; each figure "
            "is the median of the readings after the last 5 requests (one per text)",
        )
    )
    row = Row(
        section="rss",
        label=f"Worker RSS after {total} requests",
        ours=after_all,
        reference=after_10,
        reference_label="after 10",
        unit="MiB",
        ratio=growth,
        ratio_kind="pct",
        target=f"growth <= {RSS_TARGET * 100:.0f} %",
        verdict=verdict(growth <= RSS_TARGET),
        note=f"{total} sequential requests ({audio:.0f} s of audio) in {elapsed:.0f} s; "
        f"trend {slope:+.1f} KiB per request (least squares); peak {peak:.1f} MiB",
    )
    if failed:
        row.note += f"; failed: {error_counts(failed)}"
    bench.rows.append(row)
