"""Audio responses: streamed (an async iterator, so the first bytes leave as soon as the first
chunk exists under ASGI), whole-file, or OpenAI's server-sent events. Encoding runs in a thread,
off the event loop. Every path ends the synthesis exactly once (`synthesis_finish`), shielded
from the cancellation Django raises when the client goes away."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from django.conf import settings
from django.http import HttpResponse, StreamingHttpResponse
from redis.exceptions import RedisError

from billing.models import UsageRecord
from callwaiting_tts import tts_metrics
from callwaiting_tts.backpressure import connection_lost, drain
from callwaiting_tts.errors import ApplicationError, error_body, redis_lost
from callwaiting_tts.logs import request_id_var, tenant_var
from synthesis.audio.encode import AudioPipeline, encode_whole
from synthesis.audio.formats import FORMATS
from synthesis.services import Synthesis, check_admitted, synthesis_end
from synthesis.timing import NO_SPANS, WordTime

logger = logging.getLogger(__name__)
Status = UsageRecord.Status


class ResponseTooLarge(ApplicationError):
    def __init__(self) -> None:
        super().__init__(
            f"A whole-file answer holds at most {settings.TTS_MAX_WHOLE_AUDIO_SECONDS:g} s of "
            "audio; send `stream: true` or a shorter input.",
            code="response_too_large",
            status=413,
        )


async def _end(synthesis: Synthesis, status: str, error_code: str = "") -> None:
    """Ends the synthesis whatever happens on the way: the job is cancelled at its worker (a
    Redis failure there is logged) and the usage record is always closed."""
    if synthesis.stream is not None:
        try:
            await synthesis.stream.close()
        except Exception:
            logger.warning("could not close a job stream", extra={"synthesis_id": synthesis.id})
    await synthesis_end(synthesis, status, error_code)


@dataclass(frozen=True)
class MarkEvent:
    name: str
    time_ms: int


@dataclass(frozen=True)
class Encoded:
    """A piece of the answer: the marks before its audio, the audio, and the words of the
    segment its audio completed (timed: `synthesis.timing`)."""

    marks: list[MarkEvent]
    data: bytes
    words: list[WordTime] = field(default_factory=list)


async def _encoded_with_marks(synthesis: Synthesis) -> AsyncIterator[Encoded]:
    """Encoded audio as chunks arrive, each after the SSML marks that sit before it (a mark is
    reached once the audio before it has been sent) and with the words of the segment it
    completes; ends early (logged and recorded) if the synthesis fails."""
    assert synthesis.stream is not None
    # The body outlives the request middleware: keep the log context for this synthesis.
    request_id_var.set(synthesis.request_id)
    tenant_var.set(synthesis.principal.tenant_slug)
    pipeline = AudioPipeline(
        synthesis.stock.sample_rate, synthesis.input.output_format, synthesis.input.sample_rate
    )
    segments = synthesis.plan.segments
    rate = synthesis.stock.sample_rate
    started: set[int] = set()
    status, error_code = Status.CANCELLED, ""
    try:
        async for chunk in synthesis.stream.chunks():
            check_admitted(synthesis)  # its lease, kept on a timer by billing.keeper
            if connection_lost(synthesis.unsent):  # the caller hung up: cancelled, billed so far
                return
            await drain(synthesis.unsent)  # a slow reader: wait (bounded), or end the stream
            marks: list[MarkEvent] = []
            if chunk.segment not in started and chunk.segment < len(segments):
                started.add(chunk.segment)
                at = synthesis.samples_synthesized * 1000 // rate
                if chunk.segment == 0:
                    at += synthesis.plan.leading_pause_ms
                marks = [MarkEvent(name, at) for name in segments[chunk.segment].marks]
            samples = len(chunk.pcm) // 2
            words = synthesis.timed(
                chunk.segment,
                chunk.pcm,
                at=synthesis.samples_synthesized,
                end=chunk.segment_end,
                spans=chunk.words if chunk.aligned else NO_SPANS,
            )
            synthesis.received(samples)
            if chunk.segment_end and chunk.segment < len(segments):
                at = synthesis.samples_synthesized * 1000 // rate
                after = segments[chunk.segment].marks_after
            else:
                after = ()
            if pipeline.light:  # PCM at the engine's rate: nothing to do off the loop
                data = pipeline.feed(chunk.pcm)
            else:
                data = await asyncio.to_thread(pipeline.feed, chunk.pcm)
            yield Encoded(marks, data, words)
            synthesis.delivered(chunk.segment, samples)
            if after:
                yield Encoded([MarkEvent(name, at) for name in after], b"")
        tail = await asyncio.to_thread(pipeline.finish)
        if tail:
            yield Encoded([], tail)
        status = Status.COMPLETED
    except (ApplicationError, RedisError) as raised:  # SynthesisFailed, LeaseLost, SlowReader
        # Redis lost mid-stream ends the stream as any failure does: raised out of a started
        # response it left the caller's connection open with nothing more to come (chaos/).
        failure = raised if isinstance(raised, ApplicationError) else redis_lost()
        status, error_code = Status.FAILED, failure.code
        logger.warning(
            "synthesis failed after the first byte; body ends early",
            extra={"synthesis_id": str(synthesis.id), "code": failure.code},
        )
        synthesis.failure = failure
        tts_metrics.count_error(failure.code, synthesis.endpoint)  # an event, or a cut body
    finally:
        await asyncio.shield(_end(synthesis, status, error_code))


async def _encoded(synthesis: Synthesis) -> AsyncIterator[bytes]:
    async for piece in _encoded_with_marks(synthesis):
        if piece.data:
            yield piece.data


def _headers(synthesis: Synthesis) -> dict[str, str]:
    headers = {
        "X-Synthesis-ID": str(synthesis.id),
        # What it bills once complete (less what earlier attempts under its Idempotency-Key
        # billed).
        "X-Characters-Billed": str(synthesis.billed_characters(Status.COMPLETED)),
        "X-Sample-Rate": str(synthesis.input.sample_rate),
        "Cache-Control": "no-store",
    }
    if synthesis.admission is not None:  # X-RateLimit-Limit, -Remaining, -Reset
        headers.update(synthesis.admission.headers())
    return headers


def streamed(synthesis: Synthesis) -> StreamingHttpResponse:
    spec = FORMATS[synthesis.input.output_format]
    return StreamingHttpResponse(
        _encoded(synthesis), content_type=spec.media_type, headers=_headers(synthesis)
    )


async def _sse(synthesis: Synthesis) -> AsyncIterator[bytes]:
    """OpenAI's events: `speech.audio.delta` with base64 audio, then `speech.audio.done`."""
    async for data in _encoded(synthesis):
        event = {"type": "speech.audio.delta", "audio": base64.b64encode(data).decode()}
        yield f"data: {json.dumps(event)}\n\n".encode()
    if synthesis.finished and synthesis.samples_delivered:
        tokens = synthesis.billed_characters(Status.COMPLETED)
        usage = {"input_tokens": tokens, "output_tokens": 0, "total_tokens": tokens}
        done = {"type": "speech.audio.done", "usage": usage}
        yield f"data: {json.dumps(done)}\n\n".encode()


def _event(payload: dict[str, object]) -> bytes:
    return f"data: {json.dumps(payload)}\n\n".encode()


async def _native_sse(synthesis: Synthesis) -> AsyncIterator[bytes]:
    """`/v1/synthesize` with `stream_format: "sse"`: `audio` events (base64 in the requested
    format), `mark` events with their time in the audio, with `timestamps: "word"` a `words`
    event after the audio of each segment, then `done` (or nothing more when the synthesis
    failed: a stream without `done` is incomplete)."""
    timestamps = synthesis.input.timestamps == "word"
    async for piece in _encoded_with_marks(synthesis):
        for mark in piece.marks:
            yield _event({"type": "mark", "name": mark.name, "time_ms": mark.time_ms})
        if piece.data:
            yield _event({"type": "audio", "audio": base64.b64encode(piece.data).decode()})
        if timestamps and piece.words:
            yield _event({"type": "words", "words": [w.as_json() for w in piece.words]})
    if synthesis.failure is not None:  # the stream's end says why, in the error shape
        failure = synthesis.failure
        yield _event(
            {
                "type": "error",
                **error_body(
                    status=failure.status,
                    code=failure.code,
                    message=failure.message,
                    param=None,
                    request_id=synthesis.request_id,
                ),
            }
        )
    if synthesis.finished and synthesis.status == Status.COMPLETED:
        audio_ms = synthesis.samples_delivered * 1000 // synthesis.stock.sample_rate
        yield _event(
            {
                "type": "done",
                "synthesis_id": str(synthesis.id),
                "characters": synthesis.characters,
                "audio_ms": audio_ms,
            }
        )


def native_server_sent_events(synthesis: Synthesis) -> StreamingHttpResponse:
    return StreamingHttpResponse(
        _native_sse(synthesis), content_type="text/event-stream", headers=_headers(synthesis)
    )


def server_sent_events(synthesis: Synthesis) -> StreamingHttpResponse:
    return StreamingHttpResponse(
        _sse(synthesis), content_type="text/event-stream", headers=_headers(synthesis)
    )


async def whole_audio(synthesis: Synthesis) -> bytes:
    """All audio, encoded as one file. A failure raises before any byte is sent; so does audio
    longer than `TTS_MAX_WHOLE_AUDIO_SECONDS` (ResponseTooLarge, 413: what the web process
    holds for one answer is bounded)."""
    assert synthesis.stream is not None
    pcm = bytearray()
    status, error_code = Status.CANCELLED, ""
    bound = int(settings.TTS_MAX_WHOLE_AUDIO_SECONDS * synthesis.stock.sample_rate) * 2
    try:
        async for chunk in synthesis.stream.chunks():
            check_admitted(synthesis)
            synthesis.received(len(chunk.pcm) // 2)
            if len(pcm) + len(chunk.pcm) > bound:
                raise ResponseTooLarge()
            pcm += chunk.pcm
        data = await asyncio.to_thread(
            encode_whole,
            bytes(pcm),
            synthesis.stock.sample_rate,
            synthesis.input.output_format,
            synthesis.input.sample_rate,
        )
        for index in range(len(synthesis.plan.segments)):
            synthesis.delivered(index, 0)
        synthesis.samples_delivered = synthesis.samples_synthesized
        synthesis.audio_left(whole=True)  # the whole file goes out now
        status = Status.COMPLETED
        return data
    except ApplicationError as failure:  # SynthesisFailed, LeaseLost, ResponseTooLarge
        status, error_code = Status.FAILED, failure.code
        raise
    finally:
        await asyncio.shield(_end(synthesis, status, error_code))


def whole(synthesis: Synthesis, data: bytes) -> HttpResponse:
    spec = FORMATS[synthesis.input.output_format]
    headers = _headers(synthesis)
    headers["X-Audio-Duration"] = f"{synthesis.samples_delivered / synthesis.stock.sample_rate:.3f}"
    return HttpResponse(data, content_type=spec.media_type, headers=headers)
