"""Start and finish a synthesis: the one admission path for HTTP, the OpenAI endpoint and the
WebSocket (the billing issue adds quota and rate checks in `synthesis_start`), and the one place
a synthesis ends in exactly one usage record."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime

from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone
from django_tenants.utils import schema_context

from billing.models import UsageRecord
from callwaiting_tts.errors import ApplicationError
from synthesis.engines.base import Segment
from synthesis.models import SynthesisRecord
from synthesis.protocol import Job
from synthesis.stream import JobStream
from synthesis.text.split import TextPiece, split_text
from synthesis.text.ssml import SsmlError, read_ssml
from tenants.auth import KeyPrincipal
from voices.catalogue import StockVoice
from voices.selectors import (
    ResolvedVoice,
    cached_default_voice,
    default_voice_ref,
    is_stock,
    voice_resolve,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SynthesisInput:
    text: str | None
    ssml: str | None
    voice: str | None
    language: str | None
    speed: float
    output_format: str
    sample_rate: int
    source: str  # http, openai, websocket


@dataclass
class Synthesis:
    """A started synthesis: what was asked, what came back, what was delivered."""

    id: uuid.UUID
    principal: KeyPrincipal
    request_id: str
    input: SynthesisInput
    voice: ResolvedVoice
    pieces: list[TextPiece]
    characters: int
    started_at: datetime
    stream: JobStream | None = None
    samples_synthesized: int = 0
    samples_delivered: int = 0
    delivered_segments: set[int] = field(default_factory=set)
    finished: bool = False

    @property
    def stock(self) -> StockVoice:
        return self.voice.stock

    def received(self, samples: int) -> None:
        self.samples_synthesized += samples

    def delivered(self, segment: int, samples: int) -> None:
        self.delivered_segments.add(segment)
        self.samples_delivered += samples

    def billed_characters(self, status: str) -> int:
        if status == UsageRecord.Status.COMPLETED:
            return self.characters
        partial = sum(self.pieces[i].chars for i in self.delivered_segments)
        return min(partial, self.characters)


def _read_input(data: SynthesisInput) -> tuple[list[TextPiece], int]:
    if data.ssml is not None:
        try:
            ssml = read_ssml(data.ssml)
        except SsmlError as error:
            raise ApplicationError(str(error), code="invalid_ssml", param="ssml") from None
        pieces, characters, param = ssml.pieces, ssml.characters, "ssml"
    else:
        text = data.text or ""
        pieces, characters, param = split_text(text), len(text), "text"
    limit = settings.TTS_MAX_INPUT_CHARACTERS
    if characters > limit:
        raise ApplicationError(
            f"The input is {characters} characters; the limit is {limit}.",
            code="input_too_long",
            param=param,
        )
    if not pieces:
        raise ApplicationError(
            "There is nothing to say: the input has no text.", code="empty_input", param=param
        )
    return pieces, characters


def _job(synthesis: Synthesis) -> Job:
    voice = synthesis.voice
    segments = [
        Segment(
            text=p.text,
            language=voice.language,
            speed=voice.speed * synthesis.input.speed,
            pause_after_ms=p.pause_after_ms,
        )
        for p in synthesis.pieces
    ]
    return Job(
        job_id=str(synthesis.id),
        reply="",
        engine=voice.stock.engine,
        voice=voice.stock.id,
        segments=segments,
        window=settings.TTS_CREDIT_WINDOW,
        deadline=time.time() + settings.TTS_JOB_TIMEOUT_SECONDS,
        meta={"tenant": synthesis.principal.tenant_slug},
    )


async def synthesis_start(
    *, principal: KeyPrincipal, data: SynthesisInput, request_id: str
) -> Synthesis:
    """Validates, resolves the voice in the tenant's schema, and hands the job to a worker.
    Raises ApplicationError (bad input) or SynthesisFailed (no worker took it)."""
    pieces, characters = _read_input(data)
    if data.voice is None:  # the tenant's default preset, else the stock default
        data = replace(data, voice=await _default_voice(principal.schema_name) or None)
    if is_stock(data.voice, data.source):  # the common case, on the hot path: no database
        voice = voice_resolve(data.voice, language=data.language, source=data.source)
    else:
        voice = await database_sync_to_async(_resolve)(principal.schema_name, data)
    synthesis = Synthesis(
        id=uuid.uuid4(),
        principal=principal,
        request_id=request_id,
        input=data,
        voice=voice,
        pieces=pieces,
        characters=characters,
        started_at=timezone.now(),
    )
    synthesis.stream = await JobStream.open(_job(synthesis))
    return synthesis


async def _default_voice(schema_name: str) -> str:
    cached = cached_default_voice(schema_name)  # a Redis GET; the database only on a miss
    if cached is None:
        cached = await database_sync_to_async(default_voice_ref)(schema_name)
    return cached


def _resolve(schema_name: str, data: SynthesisInput) -> ResolvedVoice:
    with schema_context(schema_name):
        return voice_resolve(data.voice, language=data.language, source=data.source)


def synthesis_finish(synthesis: Synthesis, *, status: str, error_code: str = "") -> UsageRecord:
    """Records the end of a synthesis once (idempotent on its id): the public usage record and
    the tenant's synthesis log row."""
    rate = synthesis.stock.sample_rate
    ended = timezone.now()
    record, created = UsageRecord.objects.get_or_create(
        synthesis_id=synthesis.id,
        defaults={
            "tenant_id": synthesis.principal.tenant_id,
            "api_key_id": synthesis.principal.key_id,
            "request_id": synthesis.request_id[:128],
            "source": synthesis.input.source,
            "characters_billed": synthesis.billed_characters(status),
            "audio_seconds_synthesized": synthesis.samples_synthesized / rate,
            "audio_seconds_delivered": synthesis.samples_delivered / rate,
            "voice": synthesis.voice.id,
            "engine": synthesis.stock.engine,
            "output_format": synthesis.input.output_format,
            "sample_rate": synthesis.input.sample_rate,
            "status": status,
            "error_code": error_code,
            "started_at": synthesis.started_at,
            "ended_at": ended,
        },
    )
    if created:
        with schema_context(synthesis.principal.schema_name):
            SynthesisRecord.objects.create(
                id=synthesis.id,
                api_key_prefix=synthesis.principal.prefix,
                voice=synthesis.voice.id,
                engine=synthesis.stock.engine,
                output_format=synthesis.input.output_format,
                characters=record.characters_billed,
                audio_seconds=record.audio_seconds_delivered,
                status={"completed": "done"}.get(status, status),
                request_id=synthesis.request_id[:128],
                finished_at=ended,
            )
    synthesis.finished = True
    logger.info(
        "synthesis finished",
        extra={
            "synthesis_id": str(synthesis.id),
            "status": status,
            "error_code": error_code,
            "characters": record.characters_billed,
            "audio_seconds": round(record.audio_seconds_delivered, 3),
        },
    )
    return record
