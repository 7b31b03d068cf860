"""The `ttfb`, `throughput` and `peer` sections. Each appends its rows and keeps its samples in
`details`.

`rss` (worker memory) is in memory.py, `ws` (the realtime socket) in realtime.py and `limits`
(admission) in limits.py; cli.py runs them in order.
"""

from __future__ import annotations

import gc
import statistics
import threading
import time
from typing import Any

from bench import raw
from bench.base import SETTLE_SECONDS, Bench, MeasureError, Options, error_counts
from bench.client import (
    BYTES_PER_SAMPLE,
    SAMPLE_RATE,
    Connections,
    OnData,
    Reply,
    piper_synthesize,
)
from bench.peer import start_peer
from bench.report import Row, percentile, ratio, verdict
from bench.stack import WorkerHandle, cpu_seconds, log
from bench.texts import PARAGRAPH, SENTENCE, words
from devstack.redis_server import free_port

TTFB_TARGET_RATIO = 1.15
TTFB_TARGET_MS = 150.0
THROUGHPUT_TARGET = 0.85
PEER_TARGET = 0.5


def _ms(values: list[float]) -> list[float]:
    return [round(v * 1000, 2) for v in values]


# --- 1. time to first audio byte -----------------------------------------------------------


def measure_ttfb(bench: Bench) -> None:
    options = bench.options
    bench.ensure_workers(1, fresh=True)
    log("ttfb: loading the raw engine in the bench process")
    engine = raw.load_engine()
    section: dict[str, Any] = {}
    for name, text in (("sentence", SENTENCE), ("paragraph", PARAGRAPH)):
        segments = raw.service_segments(text)
        for _ in range(options.warmups):
            raw.first_chunk_seconds(engine, segments)
            bench.request(text)
        ours: list[float] = []
        headers: list[float] = []
        theirs: list[float] = []
        failed: list[Reply] = []
        audio: list[float] = []
        paired: list[float] = []  # HTTP minus raw, same iteration
        log(f"ttfb: {options.ttfb_requests} requests, {words(text)} words, raw and HTTP in turn")
        for number in range(options.ttfb_requests):
            # Each timed call starts on a quiet machine (the previous request's bookkeeping
            # done), and the order alternates, so neither side always follows the other.
            raw_seconds = 0.0
            reply: Reply | None = None
            for side in ("raw", "http") if number % 2 == 0 else ("http", "raw"):
                time.sleep(SETTLE_SECONDS)
                if side == "raw":
                    raw_seconds = raw.first_chunk_seconds(engine, segments)
                else:
                    reply = bench.request(text)
            theirs.append(raw_seconds)
            assert reply is not None
            if reply.ok and reply.ttfb is not None:
                ours.append(reply.ttfb)
                headers.append(reply.headers or 0.0)
                audio.append(reply.audio_seconds)
                paired.append(reply.ttfb - raw_seconds)
            else:
                failed.append(reply)
        section[name] = {
            "words": words(text),
            "segments": [s.text for s in segments],
            "http_ttfb_ms": _ms(ours),
            "http_headers_ms": _ms(headers),
            "raw_first_chunk_ms": _ms(theirs),
            "paired_overhead_ms": _ms(paired),
            "audio_seconds_mean": statistics.fmean(audio) if audio else None,
            "errors": error_counts(failed),
        }
        if not ours:
            raise MeasureError(f"ttfb: every request failed: {error_counts(failed)}")
        _ttfb_rows(bench, name, words(text), ours, theirs, failed, headers, paired)
        if name == "paragraph":
            bench.paragraph_ttfb_ms = [v * 1000 for v in ours]
    bench.details["ttfb"] = section
    del engine
    gc.collect()


def _ttfb_rows(
    bench: Bench,
    name: str,
    word_count: int,
    ours: list[float],
    theirs: list[float],
    failed: list[Reply],
    headers: list[float],
    paired: list[float],
) -> None:
    for q in (50, 95):
        mine = percentile(ours, q) * 1000
        reference = percentile(theirs, q) * 1000
        row = Row(
            section="ttfb",
            label=f"TTFB {word_count}-word, p{q}",
            ours=mine,
            reference=reference,
            reference_label="raw engine first chunk",
            unit="ms",
            ratio=ratio(mine, reference),
            note=f"overhead {mine - reference:+.0f} ms; n={len(ours)}",
        )
        if q == 50:
            row.note += (
                f"; median of paired differences {percentile(paired, 50) * 1000:+.0f} ms"
                f"; response headers at {percentile(headers, 50) * 1000:.0f} ms"
            )
        if failed:
            row.note += f"; failed: {error_counts(failed)}"
        if name == "sentence" and q == 50:
            row.target = f"<= {TTFB_TARGET_RATIO:.2f}x raw and < {TTFB_TARGET_MS:.0f} ms"
            row.verdict = verdict(
                row.ratio is not None and row.ratio <= TTFB_TARGET_RATIO and mine < TTFB_TARGET_MS
            )
        bench.rows.append(row)


# --- 2. throughput -------------------------------------------------------------------------


def _service_throughput(bench: Bench, text: str, workers: list[WorkerHandle]) -> dict[str, Any]:
    """`concurrency` threads request `text` over and over; audio bytes are counted by the time
    they arrive, inside a window that starts after a ramp-up."""
    options = bench.options
    connections = Connections()
    stop = threading.Event()
    started = time.perf_counter()
    window_start = started + options.throughput_ramp_seconds
    window_end = window_start + options.throughput_seconds
    counted = [0] * options.concurrency
    replies: list[list[Reply]] = [[] for _ in range(options.concurrency)]

    def counter(index: int) -> OnData:
        def on_data(size: int, at: float) -> bool:
            if window_start <= at <= window_end:
                counted[index] += size
            return at < window_end

        return on_data

    def load(index: int) -> None:
        on_data = counter(index)
        while not stop.is_set():
            reply = bench.request(text, on_data=on_data, connections=connections)
            if not stop.is_set():
                replies[index].append(reply)
                if not reply.ok:
                    time.sleep(0.2)  # no hot loop on an instant refusal

    threads = [
        threading.Thread(target=load, args=(i,), name=f"load-{i}", daemon=True)
        for i in range(options.concurrency)
    ]
    pids = {"daphne": bench.stack.daphne_pid, **{f"worker-{w.pid}": w.pid for w in workers}}
    try:
        for thread in threads:
            thread.start()
        time.sleep(max(0.0, window_start - time.perf_counter()))
        cpu_start = {name: cpu_seconds(pid) for name, pid in pids.items()}
        time.sleep(max(0.0, window_end - time.perf_counter()))
        cpu_used = {name: cpu_seconds(pid) - cpu_start[name] for name, pid in pids.items()}
    finally:  # on Ctrl-C too: no load left running against the teardown
        stop.set()
        connections.abort_all()
        for thread in threads:
            if thread.is_alive():
                thread.join(30)
    finished = [r for per in replies for r in per]
    completed = [r for r in finished if r.ok]
    audio_seconds = sum(counted) / BYTES_PER_SAMPLE / SAMPLE_RATE
    ttfb = [r.ttfb for r in completed if r.ttfb is not None]
    return {
        "concurrency": options.concurrency,
        "window_seconds": options.throughput_seconds,
        "ramp_seconds": options.throughput_ramp_seconds,
        "audio_seconds": audio_seconds,
        "rate": audio_seconds / options.throughput_seconds,
        "completed": len(completed),
        "errors": error_counts(finished),
        "ttfb_under_load_ms": {
            "p50": percentile(ttfb, 50) * 1000 if ttfb else None,
            "p95": percentile(ttfb, 95) * 1000 if ttfb else None,
        },
        "completed_total_seconds_p50": percentile([r.total for r in completed], 50)
        if completed
        else None,
        "cpu_seconds": cpu_used,
        "worker_cpu_per_audio_second": sum(
            v for k, v in cpu_used.items() if k.startswith("worker-")
        )
        / audio_seconds
        if audio_seconds
        else None,
        "daphne_cpu_per_audio_second": cpu_used["daphne"] / audio_seconds
        if audio_seconds
        else None,
    }


def _raw_run(options: Options, sessions: int) -> raw.ParallelRun:
    log(f"throughput: raw engine, {sessions} session(s), {options.raw_seconds:.0f} s")
    return raw.parallel_throughput(PARAGRAPH, sessions, options.raw_seconds)


def _raw_details(run: raw.ParallelRun) -> dict[str, Any]:
    return {
        "rate": run.rate,
        "audio_seconds": run.audio_seconds,
        "wall_seconds": run.wall_seconds,
        "per_session_rate": [s.rate for s in run.sessions],
        "cpu_per_audio_second": run.cpu_per_audio_second,
    }


def measure_throughput(bench: Bench) -> None:
    options = bench.options
    section: dict[str, Any] = {}
    for workers in (1, 2):
        # Raw sessions just before and just after the service (the machine is shared: its load
        # drifts); each gets the machine without the service's processes.
        bench.stack.stop_workers()
        before = _raw_run(options, workers)
        handles = bench.ensure_workers(workers, fresh=True)
        log(
            f"throughput: service, {workers} worker(s), {options.concurrency} concurrent, "
            f"{options.throughput_seconds:.0f} s"
        )
        service = _service_throughput(bench, PARAGRAPH, handles)
        bench.stack.stop_workers()
        after = _raw_run(options, workers)
        raw_rate = statistics.fmean([before.rate, after.rate])
        raw_cpu = statistics.fmean([before.cpu_per_audio_second, after.cpu_per_audio_second])
        section[f"{workers}_workers"] = {
            "service": service,
            "raw": {
                "sessions": workers,
                "rate": raw_rate,
                "cpu_per_audio_second": raw_cpu,
                "runs": [_raw_details(run) for run in (before, after)],
            },
        }
        if service["audio_seconds"] == 0:
            raise MeasureError(f"throughput: no audio came back: {service['errors']}")
        rate = float(service["rate"])
        row = Row(
            section="throughput",
            label=f"Throughput, {workers} worker{'s' if workers > 1 else ''}, "
            f"{options.concurrency} concurrent",
            ours=rate,
            reference=raw_rate,
            reference_label=f"raw, {workers} session{'s' if workers > 1 else ''}",
            unit="audio-s/s",
            ratio=ratio(rate, raw_rate),
        )
        load_ttfb = service["ttfb_under_load_ms"]["p50"]
        row.note = (
            f"raw before/after {before.rate:.2f}/{after.rate:.2f}; CPU ms per audio-second: "
            f"workers {service['worker_cpu_per_audio_second'] * 1000:.0f}, daphne "
            f"{service['daphne_cpu_per_audio_second'] * 1000:.0f}, raw {raw_cpu * 1000:.0f}; "
            f"{service['completed']} requests completed in the window"
        )
        if load_ttfb is not None:
            row.note += f", TTFB under load p50 {load_ttfb:.0f} ms"
        if service["errors"]:
            row.note += f"; refused/failed: {service['errors']}"
        if workers == 2:
            row.target = f">= {THROUGHPUT_TARGET * 100:.0f} % of raw"
            row.verdict = verdict(row.ratio is not None and row.ratio >= THROUGHPUT_TARGET)
        bench.rows.append(row)
        service_cpu = float(service["worker_cpu_per_audio_second"]) + float(
            service["daphne_cpu_per_audio_second"]
        )
        plural = f"{workers} worker{'s' if workers > 1 else ''}"
        bench.rows.append(
            Row(
                section="throughput",
                label=f"CPU per audio-second, {plural} + daphne",
                ours=service_cpu * 1000,
                reference=raw_cpu * 1000,
                reference_label="raw engine",
                unit="ms",
                ratio=ratio(service_cpu, raw_cpu),
                note="CPU time: little moved by other load on a shared machine; raw/ours ~ the "
                "share of raw throughput a dedicated machine reaches (Redis, client not counted)",
            )
        )
    bench.details["throughput"] = section


# --- 3. peer: Piper's own HTTP server --------------------------------------------------------


def measure_peer(bench: Bench) -> None:
    options = bench.options
    ours_ms = bench.paragraph_ttfb_ms
    if not ours_ms:  # run without the ttfb section: our side first, with the same requests
        bench.ensure_workers(1, fresh=False)
        for _ in range(options.warmups):
            bench.request(PARAGRAPH)
        replies = [bench.request(PARAGRAPH) for _ in range(options.peer_requests)]
        ours_ms = [r.ttfb * 1000 for r in replies if r.ok and r.ttfb is not None]
        if not ours_ms:
            raise MeasureError(
                f"peer: every request to the service failed: {error_counts(replies)}"
            )
    paragraph_words = words(PARAGRAPH)
    bench.stack.stop_workers()  # Piper's server gets the machine to itself
    server = start_peer(bench.stack.child_env(), bench.stack.logs, free_port())
    try:
        peer_replies: list[Reply] = []
        for _ in range(options.warmups):
            piper_synthesize(server.port, PARAGRAPH)
        log(f"peer: {options.peer_requests} requests to piper.http_server, {paragraph_words} words")
        for _ in range(options.peer_requests):
            peer_replies.append(piper_synthesize(server.port, PARAGRAPH))
    finally:
        server.stop()
    theirs = [r.total * 1000 for r in peer_replies if r.ok]
    if not theirs:
        raise MeasureError(f"peer: every request to piper.http_server failed: {peer_replies}")
    mine, reference = percentile(ours_ms, 50), percentile(theirs, 50)
    wav_bytes = [r.body_bytes for r in peer_replies if r.ok]
    bench.details["peer"] = {
        "server": "python -m piper.http_server (piper-tts 1.8.0, Flask dev server, "
        "onnxruntime default threads, model default noise)",
        "words": words(PARAGRAPH),
        "peer_full_answer_ms": [round(v, 2) for v in theirs],
        "our_ttfb_ms": [round(v, 2) for v in ours_ms],
        "peer_audio_seconds_mean": statistics.fmean(
            (b - 44) / BYTES_PER_SAMPLE / SAMPLE_RATE for b in wav_bytes
        ),
    }
    row = Row(
        section="peer",
        label=f"{words(PARAGRAPH)}-word: our TTFB p50 vs Piper HTTP full answer p50",
        ours=mine,
        reference=reference,
        reference_label="piper.http_server",
        unit="ms",
        ratio=ratio(mine, reference),
        target=f"< {PEER_TARGET:.1f}x",
        note=f"ours n={len(ours_ms)}, peer n={len(theirs)}; peer p95 "
        f"{percentile(theirs, 95):.0f} ms",
    )
    row.verdict = verdict(row.ratio is not None and row.ratio < PEER_TARGET)
    bench.rows.append(row)
