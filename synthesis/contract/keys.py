"""Where jobs, replies and heartbeats live in Redis, under a deployment's prefix."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    """The Redis names of the job protocol under `prefix` (a deployment's `REDIS_PREFIX`).
    The job channel is a channel-layer name, which the layer prefixes itself."""

    prefix: str

    @staticmethod
    def job_channel(engine: str) -> str:
        return f"tts.jobs.{engine}"

    def heartbeat(self, worker_id: str) -> str:
        return f"{self.prefix}:tts:worker:{worker_id}"

    def workers(self, engine: str) -> str:
        """A set of the ids of an engine's workers; an id whose heartbeat key has expired is a
        dead worker (readers prune it). No SCAN over the whole Redis on the request path."""
        return f"{self.prefix}:tts:workers:{engine}"

    def voices(self, worker_id: str) -> str:
        """The stock voices a worker's loaded engine offers (JSON), kept alive with its
        heartbeat: the catalog's (with their previews), the model's own, voice packs'."""
        return f"{self.prefix}:tts:voices:{worker_id}"

    def claim(self, job_id: str) -> str:
        return f"{self.prefix}:tts:claim:{job_id}"

    def reply(self, job_id: str) -> str:
        return f"{self.prefix}:tts:reply:{job_id}"

    def control(self, worker_id: str) -> str:
        return f"{self.prefix}:tts:control:{worker_id}"

    def progress(self, synthesis_id: str) -> str:
        """What workers sent for one synthesis (a hash: `chars` billed by the segments whose
        audio was sent, `samples`, `rate`), summed over its jobs: the reaper bills it when the
        web process that ran the synthesis died before recording it."""
        return f"{self.prefix}:tts:progress:{synthesis_id}"
