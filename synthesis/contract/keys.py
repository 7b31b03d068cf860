"""Where jobs, replies and heartbeats live in Redis, under a deployment's prefix."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    """The Redis names of the job protocol under `prefix` (a deployment's `REDIS_PREFIX`)."""

    prefix: str

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

    def queue(self, worker_id: str) -> str:
        """A worker's own job list (msgpack job messages): only jobs a slot was reserved for on
        this worker are pushed here (`contract.dispatch`), and only this worker pops it."""
        return f"{self.prefix}:tts:queue:{worker_id}"

    def slots(self, worker_id: str) -> str:
        """A worker's reserved slots: a sorted set of job ids scored by when the reservation
        lapses (epoch ms), removed by the worker when the job ends."""
        return f"{self.prefix}:tts:slots:{worker_id}"

    def waiting(self, engine: str) -> str:
        """An engine's wait queue while no worker has room: a sorted set of job ids scored by
        arrival (a sequence in `<this>:seq`: two jobs in one millisecond keep their order), so
        the oldest comes first."""
        return f"{self.prefix}:tts:waiting:{engine}"

    def waiting_jobs(self, engine: str) -> str:
        """The waiting jobs' messages (a hash: job id → `<wait until ms>:<hold until ms>:
        <msgpack job>`; past its wait until, a job is dropped: its web process gave up)."""
        return f"{self.prefix}:tts:waiting-jobs:{engine}"

    def placed(self, engine: str) -> str:
        """Which worker's queue a job was pushed onto (a hash: job id → worker id), until the
        worker pops it: a web process waiting for `accepted` fails at once when that worker
        died with the job still queued."""
        return f"{self.prefix}:tts:placed:{engine}"

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
