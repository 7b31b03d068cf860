"""Start and finish a synthesis: the one admission path for HTTP, the OpenAI endpoint and the
WebSocket (the billing issue adds quota and rate checks in `synthesis_start`), and the one place
a synthesis ends in exactly one usage record."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime

from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone
from django_tenants.utils import schema_context
from redis.exceptions import RedisError

from billing import admission as admission_service
from billing.admission import Admission
from billing.limits import check_plan
from billing.models import UsageRecord
from callwaiting_tts.errors import ApplicationError
from synthesis.engines.plan import engine_segments
from synthesis.models import SynthesisRecord
from synthesis.protocol import Job
from synthesis.stream import JobStream
from synthesis.text.frontend import prepare
from synthesis.text.model import Plan, locale_for
from synthesis.text.ssml import SsmlError
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
    lenient: bool = False  # SSML: drop unknown tags and bad attribute values instead of a 400


@dataclass
class Synthesis:
    """A started synthesis: what was asked, what came back, what was delivered."""

    id: uuid.UUID
    principal: KeyPrincipal
    request_id: str
    input: SynthesisInput
    voice: ResolvedVoice
    plan: Plan
    started_at: datetime
    stream: JobStream | None = None
    samples_synthesized: int = 0
    samples_delivered: int = 0
    delivered_segments: set[int] = field(default_factory=set)
    finished: bool = False
    status: str = ""  # the usage record's status once finished
    admission: Admission | None = None  # its rate, concurrency and quota admission

    @property
    def stock(self) -> StockVoice:
        return self.voice.stock

    @property
    def characters(self) -> int:
        return self.plan.characters

    def received(self, samples: int) -> None:
        self.samples_synthesized += samples

    def delivered(self, segment: int, samples: int) -> None:
        self.delivered_segments.add(segment)
        self.samples_delivered += samples

    def billed_characters(self, status: str) -> int:
        if status == UsageRecord.Status.COMPLETED:
            return self.characters
        partial = sum(self.plan.segments[i].chars for i in self.delivered_segments)
        return min(partial, self.characters)


# The longest segment each engine is given (see synthesis/text/split.py).
SEGMENT_LIMITS = {"piper": 200, "xtts": 250}


def plan_input(data: SynthesisInput, *, language: str, engine: str) -> Plan:
    """The text front-end's plan for the input: normalized for the request's language tag, else
    the voice's (`language`). Raises ApplicationError (400) for bad SSML, an input over the
    length limit or one with nothing to say."""
    param = "ssml" if data.ssml is not None else "text"
    if data.ssml is None:  # the plain-text length limit costs nothing to check first
        _check_length(len(data.text or ""), param)
    try:
        plan = prepare(
            text=data.text,
            ssml=data.ssml,
            locale=locale_for(data.language or language),
            lenient=data.lenient,
            max_chars=SEGMENT_LIMITS.get(engine, 200),
        )
    except SsmlError as error:
        raise ApplicationError(error.message, code=error.code, param="ssml") from None
    _check_length(plan.characters, param)
    if not plan.segments:
        raise ApplicationError(
            "There is nothing to say: the input has no text.", code="empty_input", param=param
        )
    return plan


def _check_length(characters: int, param: str) -> None:
    limit = settings.TTS_MAX_INPUT_CHARACTERS
    if characters > limit:
        raise ApplicationError(
            f"The input is {characters} characters; the limit is {limit}.",
            code="input_too_long",
            param=param,
        )


def _job(synthesis: Synthesis) -> Job:
    voice = synthesis.voice
    segments = engine_segments(
        synthesis.plan, language=voice.language, speed=voice.speed * synthesis.input.speed
    )
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
    """Validates, resolves the voice in the tenant's schema, admits it (rate limit, concurrency
    lease, quota reservation of the input's characters: billing.admission) and hands the job to
    a worker. Raises ApplicationError (bad input; 429 AdmissionRefused over a limit) or
    SynthesisFailed (no worker took it)."""
    if data.ssml is None:  # a plain-text input over the limit costs no lookups
        _check_length(len(data.text or ""), "text")
    voice = await resolve_voice(principal, data)
    plan = plan_input(data, language=voice.language, engine=voice.stock.engine)
    limits = await admission_service.limits_of(principal)  # one cache GET, used twice
    check_plan(
        limits,
        engine=voice.stock.engine,
        output_format=data.output_format,
        characters=plan.characters,
        param="ssml" if data.ssml is not None else "text",
    )
    synthesis = Synthesis(
        id=uuid.uuid4(),
        principal=principal,
        request_id=request_id,
        input=data,
        voice=voice,
        plan=plan,
        started_at=timezone.now(),
    )
    synthesis.admission = await admission_service.admit_request(
        principal,
        characters=plan.characters,
        lease_id=str(synthesis.id),
        limits=limits,
    )
    try:
        synthesis.stream = await JobStream.open(_job(synthesis))
    except BaseException:  # nothing was synthesized: free the slot and the reservation
        await asyncio.shield(_settle_quietly(synthesis.admission))
        raise
    return synthesis


async def _settle_quietly(admission: Admission) -> None:
    try:
        await admission_service.settle(admission, billed_characters=0)
    except (RedisError, OSError):  # the lease expires by itself; PostgreSQL has the usage
        logger.warning("could not settle an admission", extra={"admission": admission.id})


async def keep_admitted(synthesis: Synthesis) -> None:
    """Renews the synthesis's concurrency lease when due: called as its audio flows."""
    if synthesis.admission is not None:
        with contextlib.suppress(RedisError, OSError):
            await admission_service.renew(synthesis.admission)


def text_preview(*, principal: KeyPrincipal, data: SynthesisInput) -> tuple[ResolvedVoice, Plan]:
    """What the engine would be given for `data`, without synthesizing or billing anything."""
    if data.ssml is None:
        _check_length(len(data.text or ""), "text")
    with schema_context(principal.schema_name):
        if data.voice is None:
            data = replace(data, voice=default_voice_ref(principal.schema_name) or None)
        voice = voice_resolve(data.voice, language=data.language, source=data.source)
    return voice, plan_input(data, language=voice.language, engine=voice.stock.engine)


async def resolve_voice(principal: KeyPrincipal, data: SynthesisInput) -> ResolvedVoice:
    """The voice `data` names, in the tenant's schema: its default preset when none is named,
    else the stock default. Raises ApplicationError (unknown voice, unsupported language)."""
    if data.voice is None:
        data = replace(data, voice=await _default_voice(principal.schema_name) or None)
    if is_stock(data.voice, data.source):  # the common case, on the hot path: no database
        return voice_resolve(data.voice, language=data.language, source=data.source)
    return await database_sync_to_async(_resolve)(principal.schema_name, data)


def unit_job(synthesis: Synthesis, plan: Plan) -> Job:
    """A job for one more piece of a synthesis that is spoken piece by piece (the realtime
    socket): its own job id, the synthesis's voice and speed."""
    voice = synthesis.voice
    segments = engine_segments(
        plan, language=voice.language, speed=voice.speed * synthesis.input.speed
    )
    return Job(
        job_id=str(uuid.uuid4()),
        reply="",
        engine=voice.stock.engine,
        voice=voice.stock.id,
        segments=segments,
        window=settings.TTS_CREDIT_WINDOW,
        deadline=time.time() + settings.TTS_JOB_TIMEOUT_SECONDS,
        meta={"tenant": synthesis.principal.tenant_slug, "synthesis": str(synthesis.id)},
    )


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
    the tenant's synthesis log row; then settles its admission (lease released, reservation
    turned into the billed characters)."""
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
    if synthesis.admission is not None:  # idempotent: a second finish changes nothing
        try:
            admission_service.settle_sync(
                synthesis.admission, billed_characters=record.characters_billed
            )
        except (RedisError, OSError):  # the lease expires; the counter is rebuilt from here
            logger.warning(
                "could not settle an admission", extra={"synthesis_id": str(synthesis.id)}
            )
    synthesis.finished = True
    synthesis.status = status
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
