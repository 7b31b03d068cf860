from __future__ import annotations

import asyncio
import logging
import signal
import time
from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from callwaiting_tts import tts_metrics
from callwaiting_tts.metrics import serve_worker_metrics
from synthesis.engines.loader import load_engine
from synthesis.voice_packs import ensure_previews, load_pack_voices
from synthesis.worker import Worker, WorkerConfig

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Run a TTS worker: load the engine once and serve synthesis jobs until SIGTERM."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--engine", default=settings.TTS_ENGINE, help="a row of the engine table (catalog)"
        )
        parser.add_argument("--max-jobs", type=int, default=settings.TTS_WORKER_MAX_JOBS)
        parser.add_argument(
            "--metrics-port",
            type=int,
            default=settings.METRICS_PORT,
            help="serve this worker's metrics on METRICS_HOST at this port (0: none)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        name = options["engine"]
        try:
            engine = load_engine(name, **settings.TTS_ENGINE_OPTIONS.get(name, {}))
        except (ValueError, RuntimeError, ImportError, OSError) as error:
            # A misconfigured engine (no weights, licence not accepted, a row that disagrees)
            # stops here with what to do, not a traceback.
            logger.debug("engine failed to load", exc_info=True)
            raise CommandError(f"cannot start a {name} worker: {error}") from error
        # Voice packs imported so far (`import_voice_pack`); packs imported later need a
        # restart. Read before the warm-up, so conditioning a pack voice is paid once here.
        packs = load_pack_voices(engine)
        if packs:
            logger.info("pack voices loaded", extra={"engine": name, "voices": packs})
        engine.warm_up()
        previews = ensure_previews(engine)  # made once per voice (and model), then stored
        loaded = time.monotonic() - started
        tts_metrics.ENGINE_LOAD_SECONDS.labels(engine=engine.name).set(loaded)
        logger.info("engine loaded", extra={"engine": engine.name, "seconds": round(loaded, 3)})
        worker = Worker(
            engine,
            redis_url=settings.REDIS_URL,
            redis_prefix=settings.REDIS_PREFIX,
            config=WorkerConfig(
                max_jobs=options["max_jobs"],
                stall_seconds=settings.TTS_WORKER_STALL_SECONDS,
                conditioning_cache_bytes=settings.TTS_CONDITIONING_CACHE_MB * 1024 * 1024,
            ),
            previews=previews,
        )
        asyncio.run(self._serve(worker, options["metrics_port"]))

    async def _serve(self, worker: Worker, metrics_port: int) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, worker.stop)
        metrics = None
        if metrics_port:
            metrics = await serve_worker_metrics(settings.METRICS_HOST, metrics_port)
            address = f"{settings.METRICS_HOST}:{metrics_port}"
            logger.info("worker metrics served", extra={"address": address})
        try:
            await worker.run()
        finally:
            if metrics is not None:
                metrics.close()
