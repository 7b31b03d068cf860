from __future__ import annotations

import asyncio
import logging
import signal
import time
from argparse import ArgumentParser
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings
from django.core.management.base import BaseCommand

from synthesis.engines.loader import load_engine
from synthesis.worker import Worker, WorkerConfig

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Run a TTS worker: load the engine once and serve synthesis jobs until SIGTERM."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--engine", default=settings.TTS_ENGINE)
        parser.add_argument("--max-jobs", type=int, default=settings.TTS_WORKER_MAX_JOBS)

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        engine = load_engine(
            options["engine"], **settings.TTS_ENGINE_OPTIONS.get(options["engine"], {})
        )
        engine.warm_up()
        logger.info(
            "engine loaded",
            extra={"engine": engine.name, "seconds": round(time.monotonic() - started, 3)},
        )
        layer = get_channel_layer()
        assert layer is not None, "CHANNEL_LAYERS must be configured"
        worker = Worker(
            engine,
            layer=layer,
            redis_url=settings.REDIS_URL,
            redis_prefix=settings.REDIS_PREFIX,
            config=WorkerConfig(max_jobs=options["max_jobs"]),
        )
        asyncio.run(self._serve(worker))

    async def _serve(self, worker: Worker) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, worker.stop)
        await worker.run()
