"""The lease keeper: one thread per process that keeps the concurrency leases of its running
syntheses alive on a timer, whatever their audio does.

Renewing a lease as audio arrives (as this project once did) lets it expire while a request waits
in the queue or while a slow sentence is synthesized; a renewal that found the lease gone was
ignored. Here every admitted synthesis is registered at admission and dropped when it is settled;
every `LEASE_TTL_MS / 3` the thread renews its lease (`admission.keep_sync`), takes an expired
one back with its reservation when the tenant has a free slot, and otherwise marks the admission
`lost`, which its stream checks between chunks (it then ends with `lease_expired`).

A thread, not a task: it serves HTTP requests (whose admission ran in whichever event loop
`async_to_sync` used) and sockets alike, uses the synchronous Redis client, and never runs on an
event loop. A Redis error is logged and retried at the next tick; a lease lives three ticks.
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from redis.exceptions import RedisError

from billing import admission as admission_service
from billing.admission import Admission

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_held: dict[str, Admission] = {}
_thread: threading.Thread | None = None
_wake = threading.Event()


def hold(admission: Admission) -> None:
    """Keeps `admission`'s lease alive until it is settled (or lost)."""
    global _thread
    if not admission.allowed or admission.rate_only or admission.settled:
        return
    with _lock:
        _held[admission.id] = admission
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_run, name="lease-keeper", daemon=True)
            _thread.start()


def release(admission: Admission) -> None:
    with _lock:
        _held.pop(admission.id, None)


def held() -> list[Admission]:
    with _lock:
        return list(_held.values())


def tick(now: float | None = None) -> None:
    """One round: renews every held lease that is due (a third of its life has passed)."""
    now = time.monotonic() if now is None else now
    every = settings.LEASE_TTL_MS / 3000
    for admission in held():
        if admission.settled or admission.lost:
            release(admission)
            continue
        if now - admission._renewed < every:
            continue
        try:
            admission_service.keep_sync(admission)
        except (RedisError, OSError):
            logger.warning("could not renew a lease", extra={"admission": admission.id})
        if admission.lost:
            release(admission)


def _run() -> None:
    while True:
        # Ticks often enough that a lease is renewed within a few percent of its due time.
        _wake.wait(min(1.0, settings.LEASE_TTL_MS / 12_000))
        _wake.clear()
        try:
            tick()
        except Exception:  # the keeper must outlive any surprise
            logger.exception("lease keeper round failed")
