"""One job as a worker sees it, and the status a worker publishes about itself."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from synthesis.contract.messages import JOB
from synthesis.contract.segments import Segment


@dataclass
class Job:
    """One synthesis request as a worker sees it: everything resolved, nothing to look up.
    `schema_name` is the tenant's schema: the worker's only way to the tenant (for what it may
    load on the tenant's behalf, such as a cloned voice), never a client's word."""

    job_id: str
    reply: str
    engine: str
    voice: str
    segments: list[Segment]
    window: int
    deadline: float  # epoch seconds; the worker gives up after it
    schema_name: str = ""
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
            "schema_name": self.schema_name,
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
            schema_name=str(message.get("schema_name") or ""),
            conditioning=message.get("conditioning"),
            meta=dict(message.get("meta") or {}),
        )


@dataclass(frozen=True)
class WorkerStatus:
    """A worker's heartbeat: who it is and how busy (readers treat a missing one as dead)."""

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
