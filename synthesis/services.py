"""How a synthesis starts, grows and ends: the one admission path for HTTP, the OpenAI endpoint
and each realtime context, and the one place a synthesis ends in exactly one usage record.

    synthesis_admit:  validate → resolve the voice in the tenant's schema → plan with the
                      engine's segment limit → the plan's checks → admit (rate, concurrency
                      lease, quota reservation: billing.admission)
    synthesis_start:  admit, then hand the whole plan to a worker (HTTP)
    a realtime text context is admitted empty and grows: synthesis_grow (limits and quota for
    each piece of text), synthesis_plan_unit (a speakable unit → plan), synthesis_open (a job)
    synthesis_finish: the usage record and the tenant's log row, then settle the admission

Callers (views, the socket's session) only parse, call these and render.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime

from django.conf import settings
from django.utils import timezone
from redis.exceptions import RedisError

from billing import admission as admission_service
from billing.admission import Admission
from billing.limits import check_plan
from billing.models import UsageRecord
from callwaiting_tts.errors import ApplicationError
from synthesis.contract.jobs import Job
from synthesis.contract.plan import engine_segments
from synthesis.engines.catalog import EngineSpec, StockVoice, engine_spec
from synthesis.models import SynthesisRecord
from synthesis.stream import JobStream
from synthesis.text.frontend import prepare
from synthesis.text.model import InputTooLong, Plan, locale_for
from synthesis.text.ssml import SsmlError
from tenants.db import tenant_schema
from tenants.principal import Principal
from voices.selectors import ResolvedVoice, voice_resolve, voice_resolve_async

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SynthesisInput:
    """What to synthesize. `text` and `ssml` both None: a realtime text context, admitted
    empty, whose text arrives piece by piece (`synthesis_grow`)."""

    text: str | None
    ssml: str | None
    voice: str | None
    language: str | None
    speed: float
    output_format: str
    sample_rate: int
    source: str  # http, openai, websocket
    lenient: bool = False  # SSML: drop unknown tags and bad attribute values instead of a 400

    @property
    def param(self) -> str:
        """The field errors about the input name."""
        return "ssml" if self.ssml is not None else "text"

    @property
    def grows(self) -> bool:
        return self.text is None and self.ssml is None


@dataclass
class Synthesis:
    """A started synthesis: what was asked, what came back, what was delivered."""

    id: uuid.UUID
    principal: Principal
    request_id: str
    input: SynthesisInput
    voice: ResolvedVoice
    plan: Plan
    started_at: datetime
    max_characters: int  # the service's input limit, or the plan's if lower
    grown: int = 0  # a growing synthesis: the characters of text admitted so far
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
    def engine(self) -> EngineSpec:
        return engine_spec(self.stock.engine)

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


# --- starting -------------------------------------------------------------------------------


async def synthesis_admit(
    *, principal: Principal, data: SynthesisInput, request_id: str
) -> Synthesis:
    """Validates, resolves the voice in the tenant's schema, plans the input under the engine's
    segment limit, checks it against the tenant's plan and admits it (rate limit, concurrency
    lease, quota reservation of its characters). Nothing is handed to a worker yet. Raises
    ApplicationError (bad input; 403 outside the plan; 429 AdmissionRefused over a limit)."""
    _check_plain_text(data)  # a plain-text input over the limit costs no lookups
    voice = await voice_resolve_async(
        principal=principal, ref=data.voice, language=data.language, source=data.source
    )
    plan = Plan(segments=[], characters=0) if data.grows else plan_input(data, voice=voice)
    limits = await admission_service.limits_of(principal)  # one cache GET, used twice
    check_plan(
        limits,
        engine=voice.stock.engine,
        output_format=data.output_format,
        characters=plan.characters,
        param=data.param,
    )
    synthesis = Synthesis(
        id=uuid.uuid4(),
        principal=principal,
        request_id=request_id,
        input=data,
        voice=voice,
        plan=plan,
        started_at=timezone.now(),
        max_characters=min(settings.TTS_MAX_INPUT_CHARACTERS, limits.max_input_characters),
    )
    synthesis.admission = await admission_service.admit_request(
        principal, characters=plan.characters, lease_id=str(synthesis.id), limits=limits
    )
    return synthesis


async def synthesis_start(
    *, principal: Principal, data: SynthesisInput, request_id: str
) -> Synthesis:
    """`synthesis_admit`, then the whole plan handed to a worker (`synthesis.stream`). Raises as
    `synthesis_admit`, or SynthesisFailed (no worker took it; the admission is given back)."""
    synthesis = await synthesis_admit(principal=principal, data=data, request_id=request_id)
    try:
        synthesis.stream = await synthesis_open(synthesis, synthesis.plan)
    except BaseException:  # nothing was synthesized: free the slot and the reservation
        if synthesis.admission is not None:
            await asyncio.shield(_settle_quietly(synthesis.admission))
        raise
    return synthesis


def synthesis_job(synthesis: Synthesis, plan: Plan) -> Job:
    """The job that speaks `plan` (the whole input, or one unit of a growing synthesis) in the
    synthesis's voice and speed: the one place a job is built."""
    voice = synthesis.voice
    return Job(
        job_id=str(uuid.uuid4()),
        reply="",
        engine=voice.stock.engine,
        voice=voice.stock.id,
        conditioning=voice.conditioning,
        segments=engine_segments(
            plan,
            language=voice.language,
            speed=voice.speed * synthesis.input.speed,
            languages=synthesis.engine.languages,  # SSML spans in another language it speaks
        ),
        window=settings.TTS_CREDIT_WINDOW,
        deadline=time.time() + settings.TTS_JOB_TIMEOUT_SECONDS,
        schema_name=synthesis.principal.schema_name,
        meta={"tenant": synthesis.principal.tenant_slug, "synthesis": str(synthesis.id)},
    )


async def synthesis_open(synthesis: Synthesis, plan: Plan) -> JobStream:
    """Hands `plan` to a worker and waits for one to accept it. Raises SynthesisFailed."""
    return await JobStream.open(synthesis_job(synthesis, plan))


# --- growing (a realtime text context) ------------------------------------------------------


async def synthesis_grow(synthesis: Synthesis, characters: int) -> None:
    """Admits `characters` more text: within the input limit and the monthly quota (its
    reservation grows). Raises ApplicationError `input_too_long` or `quota_exceeded`; nothing
    is counted then. A Redis failure lets the text through: the usage record still bills it."""
    if synthesis.grown + characters > synthesis.max_characters:
        raise ApplicationError(
            f"A context takes at most {synthesis.max_characters} characters; it was cancelled.",
            code="input_too_long",
            param="text",
        )
    if synthesis.admission is not None:
        try:
            reserved = await admission_service.reserve_more(synthesis.admission, characters)
        except (RedisError, OSError):
            logger.warning("could not reserve quota", extra={"synthesis_id": str(synthesis.id)})
            reserved = True
        if not reserved:
            raise ApplicationError(
                "This text would pass the account's monthly character quota; "
                "the context was cancelled.",
                code="quota_exceeded",
                param="text",
                status=429,
            )
    synthesis.grown += characters


def synthesis_plan_unit(synthesis: Synthesis, text: str) -> Plan | None:
    """The plan of one speakable unit of a growing synthesis, under the engine's segment limit;
    None when it has nothing to say (only punctuation). Raises ApplicationError."""
    try:
        return plan_input(replace(synthesis.input, text=text, ssml=None), voice=synthesis.voice)
    except ApplicationError as error:
        if error.code == "empty_input":
            return None
        raise


# --- planning -------------------------------------------------------------------------------


def plan_input(
    data: SynthesisInput, *, voice: ResolvedVoice, max_characters: int | None = None
) -> Plan:
    """The text front-end's plan for the input, normalized for the request's language tag, else
    the voice's, and cut under its engine's segment limit. The input limit is
    TTS_MAX_INPUT_CHARACTERS, or `max_characters` (the tenant plan's) when lower; what the input
    bills (an SSML document's text, aliases and phonemes) is counted against it before anything
    is normalized, and an SSML document's size limit follows it. Raises ApplicationError (400)
    for bad SSML, an input over the length limit, or an input with nothing to say."""
    limit = settings.TTS_MAX_INPUT_CHARACTERS
    if max_characters is not None:
        limit = min(limit, max_characters)
    try:
        plan = prepare(
            text=data.text,
            ssml=data.ssml,
            locale=locale_for(data.language or voice.language),
            lenient=data.lenient,
            # Each run under its own language's limit (XTTS: Chinese 82, English 250).
            max_chars=engine_spec(voice.stock.engine).segment_limit,
            max_characters=limit,
        )
    except SsmlError as error:
        raise ApplicationError(error.message, code=error.code, param="ssml") from None
    except InputTooLong as error:
        raise ApplicationError(error.message, code=error.code, param=data.param) from None
    if not plan.segments:
        raise ApplicationError(
            "There is nothing to say: the input has no text.", code="empty_input", param=data.param
        )
    return plan


def _check_plain_text(data: SynthesisInput) -> None:
    if data.ssml is None:
        _check_length(len(data.text or ""), "text")


def _check_length(characters: int, param: str) -> None:
    limit = settings.TTS_MAX_INPUT_CHARACTERS
    if characters > limit:
        raise ApplicationError(
            f"The input is {characters} characters; the limit is {limit}.",
            code="input_too_long",
            param=param,
        )


def text_preview(*, principal: Principal, data: SynthesisInput) -> tuple[ResolvedVoice, Plan]:
    """What the engine would be given for `data`, without synthesizing or billing anything."""
    _check_plain_text(data)
    voice = voice_resolve(
        principal=principal, ref=data.voice, language=data.language, source=data.source
    )
    return voice, plan_input(data, voice=voice)


# --- admission while running ----------------------------------------------------------------


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


# --- ending ---------------------------------------------------------------------------------


def synthesis_finish(synthesis: Synthesis, *, status: str, error_code: str = "") -> UsageRecord:
    """Records the end of a synthesis once (idempotent on its id): the public usage record and
    the tenant's synthesis log row; then settles its admission (lease released, reservation
    turned into the billed characters)."""
    rate = synthesis.stock.sample_rate
    ended = timezone.now()
    principal = synthesis.principal
    record, created = UsageRecord.objects.get_or_create(
        synthesis_id=synthesis.id,
        defaults={
            "tenant_id": principal.tenant_id,
            "api_key_id": principal.key_id,
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
        with tenant_schema(principal.schema_name):
            SynthesisRecord.objects.create(
                id=synthesis.id,
                api_key_prefix=principal.prefix,
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
