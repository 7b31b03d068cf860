"""One job as a worker sees it, and the status a worker publishes about itself."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from synthesis.contract.messages import JOB, PREPARE
from synthesis.contract.segments import ConditioningRef, Segment


@dataclass
class Job:
    """One synthesis request as a worker sees it: everything resolved, nothing to look up.
    `schema_name` is the tenant's schema: the worker's only way to the tenant (for what it may
    load on the tenant's behalf, such as a cloned voice), never a client's word. A cloned
    voice's job names its conditioning (`conditioning`), which must lie under that tenant's
    storage prefix; `voice` is then the voice's id, for logs."""

    job_id: str
    reply: str
    engine: str
    voice: str
    segments: list[Segment]
    window: int
    deadline: float  # epoch seconds; the worker gives up after it
    schema_name: str = ""
    conditioning: ConditioningRef | None = None
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
            "conditioning": asdict(self.conditioning) if self.conditioning else None,
            "meta": self.meta,
        }

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> Job:
        conditioning = message.get("conditioning")
        return cls(
            job_id=str(message["job_id"]),
            reply=str(message["reply"]),
            engine=str(message["engine"]),
            voice=str(message["voice"]),
            segments=[Segment(**s) for s in message["segments"]],
            window=int(message["window"]),
            deadline=float(message["deadline"]),
            schema_name=str(message.get("schema_name") or ""),
            conditioning=ConditioningRef(**conditioning) if conditioning else None,
            meta=dict(message.get("meta") or {}),
        )


@dataclass
class PrepareJob:
    """Computing a cloned voice's conditioning, once per voice version: the worker reads the
    reference clip (a WAV in storage) and writes the conditioning next to it. Both paths must
    lie under the storage prefix of `schema_name`; the worker refuses any other."""

    job_id: str
    reply: str
    engine: str
    schema_name: str
    voice_id: str
    version: int
    reference_path: str
    conditioning_path: str
    deadline: float

    def to_message(self) -> dict[str, Any]:
        return {"type": PREPARE, **asdict(self)}

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> PrepareJob:
        return cls(**{k: v for k, v in message.items() if k != "type"})


@dataclass(frozen=True)
class WorkerStatus:
    """A worker's heartbeat: who it is and how busy (readers treat a missing one as dead).
    `capacity` is how many jobs it runs at once: the dispatch script (`contract.dispatch`)
    reads it from here and reserves at most that many slots on the worker; `active_jobs` is its
    load when it beat (the reservations are the exact figure)."""

    worker_id: str
    engine: str
    pid: int
    host: str
    active_jobs: int
    sample_rate: int
    capacity: int = 0  # a heartbeat from before capacities: no slots are offered on it

    def dumps(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def loads(cls, raw: bytes | str) -> WorkerStatus:
        return cls(**json.loads(raw))
