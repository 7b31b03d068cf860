"""Every synthesis metric the service exports, named in one place (README, "Metrics").

Web processes (daphne) and TTS workers are separate processes, each with its own registry:
a web process's figures go out at its `/metrics` (callwaiting_tts.metrics, beside
django-prometheus's), a worker's on a port of its own (`METRICS_PORT`, served by
`callwaiting_tts.metrics.serve_worker_metrics`). A port per worker rather than prometheus-client's
multiprocess mode: workers are separate pods/containers (one per GPU), not forks of one parent,
so each is its own scrape target, its gauges need no "live sum" and a dead worker's series go
stale with its `up` instead of lingering in a shared directory.

Labels are bounded sets: engines, endpoint kinds, output formats, error codes, plans. Tenants
appear only in `cwtts_tenant_quota_used_ratio`, for the `METRICS_TOP_TENANTS` tenants nearest
their quota at the time of the scrape.

Figures read from shared state (live workers, queue depth, dependencies, quotas) are computed
when scraped, by the functions registered with `on_scrape`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from prometheus_client import Counter, Gauge, Histogram

logger = logging.getLogger(__name__)

# Seconds: 5 ms (a phrase-cache hit) to 10 s (a long queue), dense where first audio lands.
LATENCY_BUCKETS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.15,
    0.2,
    0.3,
    0.5,
    0.75,
    1.0,
    1.5,
    2.0,
    3.0,
    5.0,
    10.0,
)
# Compute seconds per audio second: under 1 is faster than real time.
RTF_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 4.0)

# Where a synthesis came from (`SynthesisInput.source`) → the `endpoint` label.
ENDPOINTS = {"http": "http", "openai": "openai", "websocket": "ws"}


def endpoint_of(source: str) -> str:
    return ENDPOINTS.get(source, "http")


def count_error(code: str, endpoint: str) -> None:
    """An error sent to a caller in the one error shape."""
    ERRORS.labels(code=code, endpoint=endpoint).inc()


# --- web processes --------------------------------------------------------------------------

FIRST_AUDIO = Histogram(
    "cwtts_first_audio_seconds",
    "Admission to the first audio sent to the caller. delivery=stream: its first chunk; "
    "delivery=file: a whole-file answer (stream: false), when the file goes out.",
    ["engine", "endpoint", "format", "delivery"],
    buckets=LATENCY_BUCKETS,
)
SYNTHESES = Counter(
    "cwtts_syntheses",
    "Syntheses finished, by how they ended (completed, cancelled, failed, ...).",
    ["engine", "endpoint", "status"],
)
AUDIO_SECONDS = Counter(
    "cwtts_audio_seconds",
    "Seconds of audio delivered to callers.",
    ["engine", "endpoint"],
)
ACTIVE_STREAMS = Gauge(
    "cwtts_active_streams",
    "Syntheses admitted and not yet finished in this process.",
    ["endpoint"],
)
REFUSED = Counter(
    "cwtts_refused",
    "Syntheses refused at admission or hand-off (rate, concurrency, quota, queue, workers).",
    ["reason"],
)
ERRORS = Counter(
    "cwtts_errors",
    "Errors sent in the one error shape (HTTP responses, stream error events, socket errors).",
    ["code", "endpoint"],
)
CANCELS = Counter(
    "cwtts_cancels",
    "Syntheses cancelled: a socket's cancel or barge-in, an HTTP client gone mid-stream.",
    ["endpoint"],
)
CANCEL_TO_LAST_FRAME = Histogram(
    "cwtts_cancel_to_last_frame_seconds",
    "A socket cancel received to the last audio frame sent for its context (0: none after).",
    ["endpoint"],
    buckets=(0.0, *LATENCY_BUCKETS),
)
CHARACTERS_BILLED = Counter(
    "cwtts_characters_billed",
    "Characters billed, by the tenant's plan (tenants are too many for a label).",
    ["plan"],
)
WORKERS_LIVE = Gauge(
    "cwtts_workers_live",
    "TTS workers whose heartbeat is alive, read from Redis at scrape.",
    ["engine"],
)
WORKER_SLOTS = Gauge(
    "cwtts_worker_slots",
    "Job slots of live workers: total (advertised capacity) and busy (reserved).",
    ["engine", "state"],
)
QUEUE_DEPTH = Gauge(
    "cwtts_queue_depth",
    "Jobs in an engine's wait queue (no worker had a free slot), read from Redis at scrape.",
    ["engine"],
)
DEPENDENCY_UP = Gauge(
    "cwtts_dependency_up",
    "1 when the dependency answered a ping at scrape, else 0.",
    ["dependency"],
)
TENANT_QUOTA_USED = Gauge(
    "cwtts_tenant_quota_used_ratio",
    "This month's billed characters over the monthly quota, for the METRICS_TOP_TENANTS "
    "tenants with a quota nearest to it.",
    ["tenant"],
)
PHRASE_CACHE_LOOKUPS = Counter(
    "cwtts_phrase_cache_lookups",
    "Phrase cache lookups, one per job (a request, or a socket unit): hit (every segment "
    "cached), partial (the first ones), miss, bypass (cache: false).",
    ["result"],
)
PHRASE_CACHE_STORED_BYTES = Counter(
    "cwtts_phrase_cache_stored_bytes", "PCM bytes written to the phrase cache."
)

# --- TTS worker processes -------------------------------------------------------------------

REAL_TIME_FACTOR = Histogram(
    "cwtts_real_time_factor",
    "Engine compute seconds per second of audio, per chunk produced (under 1: faster than "
    "real time; a batched engine's step is shared among the chunks it made).",
    ["engine"],
    buckets=RTF_BUCKETS,
)
WORKER_ACTIVE_JOBS = Gauge("cwtts_worker_active_jobs", "Jobs this worker runs now.", ["engine"])
WORKER_CAPACITY = Gauge(
    "cwtts_worker_capacity", "Jobs this worker takes at once (max_jobs).", ["engine"]
)
WORKER_HEARTBEATS = Counter(
    "cwtts_worker_heartbeats", "Heartbeats this worker wrote to Redis.", ["engine"]
)
QUEUE_WAIT = Histogram(
    "cwtts_queue_wait_seconds",
    "A job handed to the workers (by a web process) to this worker taking it.",
    ["engine"],
    buckets=LATENCY_BUCKETS,
)
WORKER_JOBS = Counter(
    "cwtts_worker_jobs",
    "Jobs ended on this worker, by outcome (done, cancelled, failed, refused, ...).",
    ["engine", "outcome"],
)
ENGINE_LOAD_SECONDS = Gauge(
    "cwtts_engine_load_seconds",
    "Seconds the engine took to load, warm up and make its previews at start.",
    ["engine"],
)
GPU_MEMORY = Gauge(
    "cwtts_gpu_memory_bytes",
    "CUDA memory of this worker's process (torch): allocated and reserved. Only on a GPU.",
    ["engine", "kind"],
)

# --- figures computed at scrape -------------------------------------------------------------

_scrape_hooks: list[Callable[[], None]] = []


def on_scrape(hook: Callable[[], None]) -> Callable[[], None]:
    """Registers `hook` to run before each export (once per hook, however often registered)."""
    if hook not in _scrape_hooks:
        _scrape_hooks.append(hook)
    return hook


def refresh() -> None:
    """Runs the scrape hooks; one that fails leaves its figures as they were, the rest run."""
    for hook in list(_scrape_hooks):
        try:
            hook()
        except Exception as error:  # Redis down, say: cwtts_dependency_up tells; no traceback
            logger.warning(
                "a metrics scrape hook failed",
                extra={"hook": hook.__qualname__, "error": repr(error)},
            )
