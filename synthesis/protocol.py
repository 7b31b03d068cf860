"""What web processes and TTS workers say to each other over the Redis channel layer.

    web ──tts.job──► channel layer `tts.jobs.<engine>` (one channel all workers share)
    worker ──tts.accepted {control}──► the job's reply list
    worker ──tts.audio {seq, pcm, segment, segment_end}──► reply list   (within the window)
    web ──tts.credit {acked}──► the worker's control list (after each chunk it consumed)
    web ──tts.cancel──► the worker's control list
    worker ──tts.done {samples} | tts.error {code, message}──► reply list

A message may be delivered twice when several workers receive on one channel, so a worker first
claims the job id (`SET NX`); only the claimant runs it. Workers publish a heartbeat key with a
short expiry; a web process waiting on a worker whose heartbeat is gone fails the request.

Replies and control messages travel on plain Redis lists (msgpack), one per job and one per
worker, not on the channel layer's process channels: a web process must stop waiting for a
reply the moment its client goes away, and cancelling a channels-redis receive on a process
channel drops that channel's buffer and can leave the shared connection unusable, while
messages still arriving for an abandoned channel would pile up in the process. A reply list
expires on its own; a blocked BLPOP on a stream's own connection can simply be abandoned.
No engine imports here: web processes import this module.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import msgpack
from django.conf import settings

from synthesis.engines.base import Segment

JOB = "tts.job"
ACCEPTED = "tts.accepted"
AUDIO = "tts.audio"
DONE = "tts.done"
ERROR = "tts.error"
CREDIT = "tts.credit"
CANCEL = "tts.cancel"


def job_channel(engine: str) -> str:
    return f"tts.jobs.{engine}"


def heartbeat_key(worker_id: str) -> str:
    return f"{settings.REDIS_PREFIX}:tts:worker:{worker_id}"


def workers_key(engine: str) -> str:
    """A set of the ids of an engine's workers; an id whose heartbeat key has expired is a
    dead worker (readers prune it). No SCAN over the whole Redis on the request path."""
    return f"{settings.REDIS_PREFIX}:tts:workers:{engine}"


def claim_key(job_id: str) -> str:
    return f"{settings.REDIS_PREFIX}:tts:claim:{job_id}"


def reply_key(job_id: str) -> str:
    return f"{settings.REDIS_PREFIX}:tts:reply:{job_id}"


def control_key(worker_id: str) -> str:
    return f"{settings.REDIS_PREFIX}:tts:control:{worker_id}"


REPLY_TTL_SECONDS = 60


def as_text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def pack(message: dict[str, Any]) -> bytes:
    return bytes(msgpack.packb(message, use_bin_type=True))


def unpack(raw: bytes | str) -> dict[str, Any]:
    data = raw.encode() if isinstance(raw, str) else raw
    message: dict[str, Any] = msgpack.unpackb(data, raw=False)
    return message


@dataclass
class Job:
    """One synthesis request as a worker sees it: everything resolved, nothing to look up."""

    job_id: str
    reply: str
    engine: str
    voice: str
    segments: list[Segment]
    window: int
    deadline: float  # epoch seconds; the worker gives up after it
    conditioning: bytes | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def to_message(self) -> dict[str, Any]:
        return {
            "type": JOB,
            "job_id": self.job_id,
            "reply": self.reply,
            "engine": self.engine,
            "voice": self.voice,
            "segments": [asdict(s) for s in self.segments],
            "window": self.window,
            "deadline": self.deadline,
            "conditioning": self.conditioning,
            "meta": self.meta,
        }

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> Job:
        return cls(
            job_id=str(message["job_id"]),
            reply=str(message["reply"]),
            engine=str(message["engine"]),
            voice=str(message["voice"]),
            segments=[Segment(**s) for s in message["segments"]],
            window=int(message["window"]),
            deadline=float(message["deadline"]),
            conditioning=message.get("conditioning"),
            meta=dict(message.get("meta") or {}),
        )


@dataclass(frozen=True)
class WorkerStatus:
    worker_id: str
    engine: str
    pid: int
    host: str
    active_jobs: int
    sample_rate: int

    def dumps(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def loads(cls, raw: bytes | str) -> WorkerStatus:
        return cls(**json.loads(raw))
