"""What web processes and TTS workers say to each other, and how it is encoded.

    web ──tts.job──► a worker's own queue (`Keys.queue`) once a slot is reserved there, or the
        engine's wait queue until one frees (`contract.dispatch`, docs/adr/0007)
    worker ──tts.accepted {control, worker}──► the job's reply list
    worker ──tts.audio {seq, pcm, segment, segment_end}──► reply list   (within the window)
    web ──tts.credit {acked}──► the worker's control list (after each chunk it consumed)
    web ──tts.cancel──► the worker's control list
    worker ──tts.done {samples} | tts.error {code, message}──► reply list
        (an `audio` message carries at most a second of audio; a segment's audio past its
        budget ends the job with `error` `audio_limit_exceeded`)

    web ──tts.prepare──► as a job: a cloned voice's conditioning, from its reference clip
    worker ──tts.accepted──► reply list, then ──tts.prepared {path, nbytes} | tts.error──►

    web ──tts.forget {schema_name, voice_id}──► every live worker's control list of the voice's
        engine, when a cloned voice is deleted: its loaded conditioning leaves the cache

A worker first claims the job id (`SET NX`); only the claimant runs it, and a web process that
gave up before it was accepted claims it first, so it never starts. Workers publish a heartbeat
key with a short expiry (and their capacity in it); a web process waiting on a worker whose
heartbeat is gone fails the request.

Replies and control messages travel on plain Redis lists (msgpack), one per job and one per
worker, not on the channel layer's process channels: a web process must stop waiting for a
reply the moment its client goes away, and cancelling a channels-redis receive on a process
channel drops that channel's buffer and can leave the shared connection unusable, while
messages still arriving for an abandoned channel would pile up in the process (docs/adr/0004).
A reply list expires on its own; a blocked BLPOP on a stream's own connection can simply be
abandoned.
"""

from __future__ import annotations

from typing import Any

import msgpack

JOB = "tts.job"
ACCEPTED = "tts.accepted"
AUDIO = "tts.audio"
DONE = "tts.done"
ERROR = "tts.error"
CREDIT = "tts.credit"
CANCEL = "tts.cancel"
PREPARE = "tts.prepare"
PREPARED = "tts.prepared"
FORGET = "tts.forget"

# A segment's audio passed its budget (`Segment.max_audio_seconds`): the worker stopped the job.
# Counted as the input's fault (text the engine reads far longer than its characters); the
# synthesis fails and is billed as any failed one (the segments whose audio was delivered).
AUDIO_LIMIT_EXCEEDED = "audio_limit_exceeded"

# Error codes a worker reports that are the request's fault, not the service's.
INPUT_ERRORS = frozenset(
    {
        "unsupported_language",
        "unknown_voice",
        "reference_unusable",
        "unsupported_text",
        AUDIO_LIMIT_EXCEEDED,
    }
)

REPLY_TTL_SECONDS = 60


def as_text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def pack(message: dict[str, Any]) -> bytes:
    return bytes(msgpack.packb(message, use_bin_type=True))


def unpack(raw: bytes | str) -> dict[str, Any]:
    data = raw.encode() if isinstance(raw, str) else raw
    message: dict[str, Any] = msgpack.unpackb(data, raw=False)
    return message
