"""The synthesis figures a web process computes when scraped (`tts_metrics.on_scrape`): its
active streams, the workers and wait queues every web process sees in Redis, and the tenants
nearest their quota."""

from __future__ import annotations

from django.conf import settings

from billing.selectors import tenants_nearest_quota
from callwaiting_tts import tts_metrics
from callwaiting_tts.redis import get_redis
from synthesis.contract import messages
from synthesis.contract.jobs import WorkerStatus
from synthesis.engines.catalog import ENGINES
from synthesis.services import active_streams
from synthesis.stream import job_keys


@tts_metrics.on_scrape
def stream_figures() -> None:
    for endpoint, count in active_streams().items():
        tts_metrics.ACTIVE_STREAMS.labels(endpoint=endpoint).set(count)


@tts_metrics.on_scrape
def worker_figures() -> None:
    """Per engine: live workers (heartbeat present), their advertised slots and the reserved
    ones, and the wait queue's length. Read-only: pruning dead ids is the dispatcher's job."""
    client, keys = get_redis(), job_keys()
    for engine in ENGINES:
        ids = [messages.as_text(i) for i in sorted(client.smembers(keys.workers(engine)))]
        beats = client.mget([keys.heartbeat(i) for i in ids]) if ids else []
        live = [WorkerStatus.loads(raw) for raw in beats if raw is not None]
        busy = sum(client.zcard(keys.slots(status.worker_id)) for status in live)
        tts_metrics.WORKERS_LIVE.labels(engine=engine).set(len(live))
        tts_metrics.WORKER_SLOTS.labels(engine=engine, state="total").set(
            sum(status.capacity for status in live)
        )
        tts_metrics.WORKER_SLOTS.labels(engine=engine, state="busy").set(busy)
        tts_metrics.QUEUE_DEPTH.labels(engine=engine).set(client.zcard(keys.waiting(engine)))


@tts_metrics.on_scrape
def quota_figures() -> None:
    """The top tenants by share of quota used: the set is replaced at each scrape, so a tenant
    that drops out of it loses its series instead of keeping a stale value."""
    nearest = tenants_nearest_quota(settings.METRICS_TOP_TENANTS)
    tts_metrics.TENANT_QUOTA_USED.clear()
    for slug, share in nearest:
        tts_metrics.TENANT_QUOTA_USED.labels(tenant=slug).set(round(share, 4))
