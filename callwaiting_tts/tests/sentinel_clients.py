"""Run in a fresh process by test_redis_sentinel.py (settings read the environment at import,
as a deployment's do): every kind of Redis client the service makes does one real operation,
and one JSON line says, per client, `true` or the error it met.

With `CWTTS_SENTINEL_SIGNALS` (a folder) it then keeps a TTS worker running, writes `ready`
there, waits for `go` (the test has failed the primary over meanwhile) and does it all again on
the same clients: the "after" figures."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import django

Outcome = bool | str


async def _outcome(check: Callable[[], Awaitable[bool]]) -> Outcome:
    try:
        return await check()
    except Exception as error:  # the report names it; the test fails on anything but True
        return f"{type(error).__name__}: {error}"


class Clients:
    """The clients of one process, made once and used before and after a failover."""

    def __init__(self) -> None:
        from callwaiting_tts.redis import async_client

        self.tag = ""
        self.stream = async_client()  # as a JobStream makes its own
        self.worker: Any = None
        self.worker_task: asyncio.Task[None] | None = None

    async def run(self, tag: str) -> dict[str, Outcome]:
        self.tag = tag
        checks: dict[str, Callable[[], Awaitable[bool]]] = {
            "factory": self.factory,
            "health": self.health,
            "cache": self.cache,
            "channel_layer": self.channel_layer,
            "admission_scripts": self.admission_scripts,
            "dispatch_script": self.dispatch_script,
            "worker_heartbeat": self.worker_heartbeat,
            "celery_broker": self.celery_broker,
            "celery_results": self.celery_results,
        }
        return {name: await _outcome(check) for name, check in checks.items()}

    async def factory(self) -> bool:
        from callwaiting_tts.redis import get_redis

        get_redis().set(f"sentinel-test:factory:{self.tag}", "ok")
        return get_redis().get(f"sentinel-test:factory:{self.tag}") == b"ok"

    async def health(self) -> bool:
        from callwaiting_tts.health import check_redis

        check_redis()
        return True

    async def cache(self) -> bool:
        from django.core.cache import cache

        cache.set(f"sentinel-test:{self.tag}", {"n": 1}, 30)
        return cache.get(f"sentinel-test:{self.tag}") == {"n": 1}

    async def channel_layer(self) -> bool:
        from channels.layers import get_channel_layer

        layer = get_channel_layer()
        assert layer is not None
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "hello", "tag": self.tag})
        return await layer.receive(channel) == {"type": "hello", "tag": self.tag}

    async def admission_scripts(self) -> bool:
        """Admission's multi-key scripts: admit (rate, lease, quota keys), then settle."""
        from billing import admission
        from billing.limits import Limits
        from tenants.principal import Principal

        principal = Principal(
            tenant_id=1, tenant_slug="s", tenant_name="S", schema_name="s", plan_id=1,
            scopes=frozenset({"synthesize"}), key_id=1,
        )  # fmt: skip
        limits = Limits(
            requests_per_minute=100, key_requests_per_minute=None, max_concurrent_streams=5,
            monthly_characters=None, overage_allowed=True, max_input_characters=1000,
            max_cloned_voices=0, allowed_engines=frozenset(), allowed_formats=frozenset(),
        )  # fmt: skip
        admitted = await admission.admit(
            principal, characters=10, lease_id=f"sentinel-{self.tag}", limits=limits
        )
        return admitted.allowed and await admission.settle(admitted, billed_characters=10)

    async def dispatch_script(self) -> bool:
        from django.conf import settings

        from synthesis.contract import dispatch
        from synthesis.contract.keys import Keys

        placement = await dispatch.dispatch(
            self.stream, Keys(settings.REDIS_PREFIX), "sentinel-test",
            job_id=uuid.uuid4().hex, message=b"{}", hold_ms=1000, wait_ms=1000, depth=10,
        )  # fmt: skip
        return placement.outcome == dispatch.NO_WORKERS  # none of that engine: the script said so

    async def worker_heartbeat(self) -> bool:
        """A TTS worker's client: its heartbeat is (re)written on the primary."""
        from django.conf import settings

        from callwaiting_tts.redis import get_redis
        from synthesis.contract.keys import Keys
        from synthesis.engines.piper import PiperEngine
        from synthesis.worker import Worker

        if self.worker is None:
            self.worker = Worker(
                PiperEngine(), redis_url=settings.REDIS_URL, redis_prefix=settings.REDIS_PREFIX
            )
            self.worker_task = asyncio.create_task(self.worker.run())
        heartbeat = Keys(settings.REDIS_PREFIX).heartbeat(self.worker.worker_id)
        get_redis().delete(heartbeat)
        deadline = time.monotonic() + 10
        while not get_redis().exists(heartbeat):
            if self.worker_task is not None and self.worker_task.done():
                raise RuntimeError("the worker stopped (its log is on standard error)")
            if time.monotonic() > deadline:
                raise TimeoutError("no heartbeat within 10 s")
            await asyncio.sleep(0.1)
        return True

    async def celery_broker(self) -> bool:
        from callwaiting_tts.celery import app

        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=3)
            return bool(
                connection.default_channel.client.set(f"sentinel-test:broker:{self.tag}", 1)
            )

    async def celery_results(self) -> bool:
        from callwaiting_tts.celery import app

        app.backend.set(f"sentinel-test:result:{self.tag}", "ok")
        return app.backend.get(f"sentinel-test:result:{self.tag}") == b"ok"

    async def stop(self) -> None:
        if self.worker is not None and self.worker_task is not None:
            self.worker.stop()
            await asyncio.wait_for(self.worker_task, 30)


async def _wait_for(path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} never appeared")
        await asyncio.sleep(0.05)


async def main() -> dict[str, dict[str, Outcome]]:
    clients = Clients()
    results = {"before": await clients.run("before")}
    signals = os.environ.get("CWTTS_SENTINEL_SIGNALS")
    if signals:
        Path(signals, "ready").touch()
        await _wait_for(Path(signals, "go"))
        results["after"] = await clients.run("after")
    await clients.stop()
    return results


if __name__ == "__main__":
    django.setup()
    print(json.dumps(asyncio.run(main())))
