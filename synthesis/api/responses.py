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

from channels.db import database_sync_to_async
from django.http import HttpResponse, StreamingHttpResponse

from billing.models import UsageRecord
from callwaiting_tts.logs import request_id_var, tenant_var
from synthesis.audio.encode import AudioPipeline, encode_whole
from synthesis.audio.formats import FORMATS
from synthesis.services import Synthesis, synthesis_finish
from synthesis.stream import SynthesisFailed

logger = logging.getLogger(__name__)
Status = UsageRecord.Status


async def _end(synthesis: Synthesis, status: str, error_code: str = "") -> None:
    if synthesis.stream is not None:
        await synthesis.stream.close()
    await database_sync_to_async(synthesis_finish)(synthesis, status=status, error_code=error_code)


async def _encoded(synthesis: Synthesis) -> AsyncIterator[bytes]:
    """Encoded audio as chunks arrive; ends early (logged and recorded) if synthesis fails."""
    assert synthesis.stream is not None
    # The body outlives the request middleware: keep the log context for this synthesis.
    request_id_var.set(synthesis.request_id)
    tenant_var.set(synthesis.principal.tenant_slug)
    pipeline = AudioPipeline(
        synthesis.stock.sample_rate, synthesis.input.output_format, synthesis.input.sample_rate
    )
    status, error_code = Status.CANCELLED, ""
    try:
        async for chunk in synthesis.stream.chunks():
            samples = len(chunk.pcm) // 2
            synthesis.received(samples)
            data = await asyncio.to_thread(pipeline.feed, chunk.pcm)
            if data:
                yield data
            synthesis.delivered(chunk.segment, samples)
        tail = await asyncio.to_thread(pipeline.finish)
        if tail:
            yield tail
        status = Status.COMPLETED
    except SynthesisFailed as failure:
        status, error_code = Status.FAILED, failure.code
        logger.warning(
            "synthesis failed after the first byte; body ends early",
            extra={"synthesis_id": str(synthesis.id), "code": failure.code},
        )
    finally:
        await asyncio.shield(_end(synthesis, status, error_code))


def _headers(synthesis: Synthesis) -> dict[str, str]:
    return {
        "X-Synthesis-ID": str(synthesis.id),
        "X-Characters-Billed": str(synthesis.characters),
        "X-Sample-Rate": str(synthesis.input.sample_rate),
        "Cache-Control": "no-store",
    }


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
        tokens = synthesis.characters
        usage = {"input_tokens": tokens, "output_tokens": 0, "total_tokens": tokens}
        done = {"type": "speech.audio.done", "usage": usage}
        yield f"data: {json.dumps(done)}\n\n".encode()


def server_sent_events(synthesis: Synthesis) -> StreamingHttpResponse:
    return StreamingHttpResponse(
        _sse(synthesis), content_type="text/event-stream", headers=_headers(synthesis)
    )


async def whole_audio(synthesis: Synthesis) -> bytes:
    """All audio, encoded as one file. A failure raises before any byte is sent."""
    assert synthesis.stream is not None
    pcm = bytearray()
    status, error_code = Status.CANCELLED, ""
    try:
        async for chunk in synthesis.stream.chunks():
            synthesis.received(len(chunk.pcm) // 2)
            pcm += chunk.pcm
        data = await asyncio.to_thread(
            encode_whole,
            bytes(pcm),
            synthesis.stock.sample_rate,
            synthesis.input.output_format,
            synthesis.input.sample_rate,
        )
        for index in range(len(synthesis.pieces)):
            synthesis.delivered(index, 0)
        synthesis.samples_delivered = synthesis.samples_synthesized
        status = Status.COMPLETED
        return data
    except SynthesisFailed as failure:
        status, error_code = Status.FAILED, failure.code
        raise
    finally:
        await asyncio.shield(_end(synthesis, status, error_code))


def whole(synthesis: Synthesis, data: bytes) -> HttpResponse:
    spec = FORMATS[synthesis.input.output_format]
    headers = _headers(synthesis)
    headers["X-Audio-Duration"] = f"{synthesis.samples_delivered / synthesis.stock.sample_rate:.3f}"
    return HttpResponse(data, content_type=spec.media_type, headers=headers)
