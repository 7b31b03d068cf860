"""How a synthesis starts, grows and ends: the one admission path for HTTP, the OpenAI endpoint
and each realtime context, and the one place a synthesis ends in exactly one usage record.

    synthesis_admit:  validate → resolve the voice and the pronunciation dictionaries in the
                      tenant's schema → plan with the
                      engine's segment limit → the plan's checks → admit (rate, concurrency
                      lease, quota reservation: billing.admission)
    synthesis_start:  admit, then hand the whole plan to a worker (HTTP)
    a realtime text context is admitted empty and grows: synthesis_grow (limits and quota for
    each piece of text), synthesis_plan_unit (a speakable unit → plan), synthesis_open (a job)
    synthesis_finish: the usage record (opened at admission) closed and the tenant's log row
                      written, then the admission settled

Every admitted synthesis has a usage record from its admission on (status `open`), and its lease
is kept alive by the process's lease keeper (`billing.keeper`) until it is settled: a process
that dies mid-synthesis leaves an open record that the reaper (`synthesis.reaper`) closes,
billing what its workers reported as sent.

Callers (views, the socket's session) only parse, call these and render.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async
from channels.db import database_sync_to_async
from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone
from redis.exceptions import RedisError

from billing import admission as admission_service
from billing import keeper
from billing.admission import Admission, LeaseLost
from billing.limits import Limits, check_plan, limits_cache_key, limits_for
from billing.models import UsageRecord
from billing.selectors import plan_slug
from billing.services import usage_record_open
from callwaiting_tts import tts_metrics
from callwaiting_tts.errors import ApplicationError, service_unavailable
from pronunciations.selectors import (
    default_dictionary_cache_key,
    request_lexicon,
    request_lexicon_async,
)
from synthesis import phrase_cache
from synthesis.contract.jobs import Job
from synthesis.contract.plan import engine_segments
from synthesis.contract.segments import clamp_speed
from synthesis.engines.catalog import EngineSpec, StockVoice, engine_spec
from synthesis.models import SynthesisRecord
from synthesis.plan_cache import plan_key, plans
from synthesis.stream import JobStream
from synthesis.text.frontend import prepare
from synthesis.text.lexicon import Lexicon
from synthesis.text.model import InputTooLong, Plan, locale_for
from synthesis.text.ssml import SsmlError
from synthesis.timing import NO_SPANS, WordClock, WordTime
from tenants.db import tenant_schema
from tenants.principal import Principal
from voices.selectors import (
    ResolvedVoice,
    default_voice_cache_key,
    voice_resolve,
    voice_resolve_async,
)

logger = logging.getLogger(__name__)

# The syntheses admitted in this process (by id), for `active_streams`.
_live: weakref.WeakValueDictionary[uuid.UUID, Synthesis] = weakref.WeakValueDictionary()


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
    timestamps: str = "none"  # "word": word timings sent with the audio (`synthesis.timing`)
    # The pronunciation dictionaries it names, in order; None: the tenant's default, if any.
    pronunciation_dictionaries: tuple[str, ...] | None = None
    # False: neither served from nor stored in the phrase cache (`synthesis.phrase_cache`).
    cache: bool = True

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
    lexicon: Lexicon | None = None  # its pronunciation dictionaries (each unit of a context too)
    # HTTP under daphne: the bytes its connection holds unsent (callwaiting_tts.backpressure)
    unsent: Callable[[], int] | None = None
    failure: ApplicationError | None = None  # why a started stream ended early
    prior_billed: int = 0  # characters earlier attempts billed under its Idempotency-Key
    # Called once, at the end of `synthesis_finish` (in its thread): the idempotency entry.
    on_finish: list[Callable[[Synthesis, UsageRecord], None]] = field(default_factory=list)
    # When each word was heard in the audio received so far (`synthesis.timing`).
    clock: WordClock | None = None
    # The playback point a socket client gave at its cancel (`played_ms`): the text heard is
    # counted up to it rather than to all the audio sent.
    played_ms: int | None = None
    # When it was admitted (monotonic), and how long after that its first audio left: the
    # end-of-synthesis log line's `first_audio_ms` ("why was call X slow" is one grep).
    admitted_at: float = field(default_factory=time.monotonic)
    first_audio_ms: int | None = None

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
        if samples > 0:
            self.audio_left()

    def audio_left(self, *, whole: bool = False) -> None:
        """Audio reached the client (its first chunk, or a `whole` file): the first time
        counts. A whole file's first byte is the whole synthesis: its own `delivery`, so that
        it does not read as a slow stream."""
        if self.first_audio_ms is None:
            waited = time.monotonic() - self.admitted_at
            self.first_audio_ms = round(waited * 1000)
            tts_metrics.FIRST_AUDIO.labels(
                engine=self.stock.engine,
                endpoint=self.endpoint,
                format=self.input.output_format,
                delivery="file" if whole else "stream",
            ).observe(waited)

    @property
    def endpoint(self) -> str:
        """Its `endpoint` label in the metrics (http, openai, ws)."""
        return tts_metrics.endpoint_of(self.input.source)

    def timed(
        self, index: int, pcm: bytes, *, at: int, end: bool, spans: object = NO_SPANS
    ) -> list[WordTime]:
        """Feeds the word clock a chunk of segment `index` of the plan, whose audio starts at
        sample `at` of the synthesis's clock (the place its marks report); the segment's
        words, timed, once `end` says its audio is whole."""
        if not 0 <= index < len(self.plan.segments):
            return []
        if self.clock is None:
            self.clock = WordClock(self.stock.sample_rate)
        segment = self.plan.segments[index]
        if self.clock.segment is not segment:
            # The speed the engine was asked for (`engine_segments`): a partial segment's words
            # are estimated at it.
            speed = clamp_speed(self.voice.speed * self.input.speed * segment.prosody.rate)
            self.clock.begin(segment, at=at, speed=speed)
        self.clock.add(pcm, spans)
        return self.clock.end() if end else []

    def text_spoken(self, status: str) -> str:
        """The input's words heard: all of them once completed; else those whose audio ended
        by the playback point (`played_ms`, at most the audio delivered)."""
        if status == UsageRecord.Status.COMPLETED:
            return " ".join(w.text for s in self.plan.segments for w in s.words)
        if self.clock is None:
            return ""
        delivered = self.samples_delivered * 1000 // self.stock.sample_rate
        played = delivered if self.played_ms is None else min(self.played_ms, delivered)
        return self.clock.heard(played)

    def billed_characters(self, status: str) -> int:
        if status == UsageRecord.Status.COMPLETED:
            billed = self.characters
        else:
            partial = sum(self.plan.segments[i].chars for i in self.delivered_segments)
            billed = min(partial, self.characters)
        return max(0, billed - self.prior_billed)  # a retry: never billed twice


# --- starting -------------------------------------------------------------------------------


async def synthesis_admit(
    *, principal: Principal, data: SynthesisInput, request_id: str, record: bool = True
) -> Synthesis:
    """Validates, resolves the voice in the tenant's schema, plans the input under the engine's
    segment limit, checks it against the tenant's plan and admits it (rate limit, concurrency
    lease, quota reservation of its characters). Nothing is handed to a worker yet; its usage
    record is opened and its lease kept alive (`billing.keeper`). Raises ApplicationError (bad
    input; 403 outside the plan; 429 AdmissionRefused over a limit; 503 when the record cannot
    be written). A request refused as invalid counts toward the rate limit (`count_refused`).
    `record=False`: the caller opens the record itself (`synthesis_start`, beside the job)."""
    try:
        voice, plan, limits, lexicon = await _checked(principal, data)
    except ApplicationError as refused:
        await refused_request(principal, request_id, refused)
        raise
    synthesis = Synthesis(
        id=uuid.uuid4(),
        principal=principal,
        request_id=request_id,
        input=data,
        voice=voice,
        plan=plan,
        started_at=timezone.now(),
        max_characters=min(settings.TTS_MAX_INPUT_CHARACTERS, limits.max_input_characters),
        lexicon=lexicon,
    )
    synthesis.admission = await admission_service.admit_request(
        principal, characters=plan.characters, lease_id=str(synthesis.id), limits=limits
    )
    keeper.hold(synthesis.admission)
    if record:
        await _recorded(synthesis, asyncio.ensure_future(_open_record(synthesis)))
        _live[synthesis.id] = synthesis
    return synthesis


async def _open_record(synthesis: Synthesis) -> None:
    await database_sync_to_async(usage_open)(synthesis)


def _connection_ready() -> None:
    """In the request's database thread: its connection, on the search path the usage
    record's INSERT needs, kept for `_usage_open_then_release`. Closes nothing: in a
    synchronous chain this thread's connection is the caller's (a test's transaction); under
    daphne it is the request's own, new with its thread."""
    with connection.cursor():
        pass  # django-tenants sets the search path on a connection's first cursor


def _usage_open_then_release(synthesis: Synthesis) -> None:
    """`usage_open` on the connection `_connection_ready` prepared, then the connection goes
    back as `database_sync_to_async` gives it back (to the pool, in the web process)."""
    try:
        usage_open(synthesis)
    finally:
        close_old_connections()


async def _recorded(synthesis: Synthesis, opening: asyncio.Future[None]) -> None:
    """Waits for the record being opened; when it could not be, gives the slot and the
    reservation back and raises (no record, no synthesis)."""
    try:
        await asyncio.shield(opening)
    except BaseException:
        await _give_back(synthesis)
        raise


async def _give_back(synthesis: Synthesis) -> None:
    """An admitted synthesis that will not run: its slot and its reservation go back."""
    if synthesis.admission is not None:
        keeper.release(synthesis.admission)
        await asyncio.shield(_settle_quietly(synthesis.admission))


async def _checked(
    principal: Principal, data: SynthesisInput
) -> tuple[ResolvedVoice, Plan, Limits, Lexicon | None]:
    """The input checked and planned: the text front-end runs in a pool thread, never on the
    event loop (daphne's) nor in the one thread sync views share."""
    _check_plain_text(data)  # a plain-text input over the limit costs no lookups
    # The tenant's default voice and dictionary and its limits: one cache round trip (MGET) on
    # the loop for the three reads below.
    found = cache.get_many(
        [
            default_voice_cache_key(principal.schema_name),
            default_dictionary_cache_key(principal.schema_name),
            limits_cache_key(principal.tenant_id),
        ]
    )
    voice = await voice_resolve_async(
        principal=principal,
        ref=data.voice,
        language=data.language,
        source=data.source,
        prefetched=found,
    )
    lexicon = await request_lexicon_async(
        principal=principal, named=data.pronunciation_dictionaries, prefetched=found
    )
    limits = await admission_service.limits_of(principal, found)  # used thrice
    if data.grows:
        plan = Plan(segments=[], characters=0)
    else:  # the plan's input limit is counted before anything is normalized
        key = plan_key(
            text=data.text,
            ssml=data.ssml,
            language=data.language or voice.language,
            lenient=data.lenient,
            engine=voice.stock.engine,
            max_characters=limits.max_input_characters,
            lexicon=lexicon,
        )
        kept = plans().get(key)  # an input said before: no thread, no front-end
        if kept is not None:
            plan = kept
        else:
            plan = await sync_to_async(plan_input, thread_sensitive=False)(
                data, voice=voice, max_characters=limits.max_input_characters, lexicon=lexicon
            )
            plans().put(key, plan)
    check_plan(
        limits,
        engine=voice.stock.engine,
        output_format=data.output_format,
        characters=plan.characters,
        param=data.param,
    )
    return voice, plan, limits, lexicon


async def refused_request(principal: Principal, request_id: str, error: ApplicationError) -> None:
    """A request refused as invalid (4xx other than a limit's 429) counts toward the rate
    limit; a Redis failure here refuses nothing more."""
    if 400 <= error.status < 500 and error.status != 429:
        try:
            await admission_service.count_refused(principal, request_id or str(uuid.uuid4()))
        except (RedisError, OSError):
            logger.warning("could not count a refused request")


def _record_identity(synthesis: Synthesis) -> dict[str, Any]:
    """What a usage record says of its synthesis, open or closed."""
    principal = synthesis.principal
    return {
        "synthesis_id": synthesis.id,
        "tenant_id": principal.tenant_id,
        "api_key_id": principal.key_id,
        "request_id": synthesis.request_id[:128],
        "source": synthesis.input.source,
        "voice": synthesis.voice.id,
        "engine": synthesis.stock.engine,
        "output_format": synthesis.input.output_format,
        "sample_rate": synthesis.input.sample_rate,
        "started_at": synthesis.started_at,
    }


def usage_open(synthesis: Synthesis) -> UsageRecord:
    """The synthesis's usage record, written at admission with status `open` (billed 0 until it
    is closed). Raises ApplicationError 503 when PostgreSQL cannot take it."""
    try:
        return usage_record_open(**_record_identity(synthesis))
    except DatabaseError:
        logger.exception("could not open a usage record")
        raise usage_unavailable() from None


def usage_unavailable() -> ApplicationError:
    return service_unavailable("The service cannot record usage right now; retry shortly.")


async def synthesis_start(
    *, principal: Principal, data: SynthesisInput, request_id: str
) -> Synthesis:
    """`synthesis_admit`, then the whole plan handed to a worker (`synthesis.stream`). Raises as
    `synthesis_admit`, or SynthesisFailed (no worker took it; the admission is given back)."""
    # The database thread's connection is made ready (taken from the pool, its search path set)
    # while the request is checked and admitted, so that the usage record's INSERT after the
    # admission is one round trip (a phrase-cache hit waits for it: docs/phrase-cache.md).
    ready = asyncio.ensure_future(sync_to_async(_connection_ready)())
    try:
        synthesis = await synthesis_admit(
            principal=principal, data=data, request_id=request_id, record=False
        )
    finally:
        await asyncio.wait({ready})  # its connection goes back with the request's, if refused
        if not ready.cancelled() and ready.exception() is not None:
            logger.warning("could not ready a database connection for the usage record")
            if isinstance(ready.exception(), DatabaseError):
                # PostgreSQL is out of reach: the INSERT would wait as long again for the same
                # answer (the pool's timeout, twice, ran past callers' read timeouts).
                await _give_back(synthesis)
                raise usage_unavailable()
    # The usage record is written while the job goes to a worker: its INSERT (a few ms in a
    # database thread) overlaps the hand-off instead of delaying it (bench: limits).
    opening = asyncio.ensure_future(sync_to_async(_usage_open_then_release)(synthesis))
    job = asyncio.ensure_future(synthesis_open(synthesis, synthesis.plan))
    gone: BaseException | None = None
    try:
        # A hit too waits for its usage record: no audio leaves before it is recorded (a
        # process that died after the first chunk would leave it unbilled), though the INSERT
        # is most of a hit's time to first audio (docs/phrase-cache.md).
        await asyncio.shield(asyncio.wait({opening, job}))
    except BaseException as cancelled:  # the client went away: both finish, then are undone
        gone = cancelled
        await asyncio.wait({opening, job})
    stream = job.result() if not job.exception() else None
    try:
        await _recorded(synthesis, opening)
    except BaseException:
        if stream is not None:
            await asyncio.shield(stream.close())
        raise
    if stream is None or gone is not None:  # nothing was heard: recorded, billed 0
        error = gone or job.exception()
        code = error.code if isinstance(error, ApplicationError) else "cancelled"
        status = UsageRecord.Status.CANCELLED if gone else UsageRecord.Status.FAILED
        if stream is not None:
            await asyncio.shield(stream.close())
        await asyncio.shield(synthesis_end(synthesis, status, code))
        assert error is not None
        if isinstance(error, ApplicationError):
            # Its usage record exists (failed, billed 0): the answer names it, as a 200 does.
            error.headers = {**error.headers, "X-Synthesis-ID": str(synthesis.id)}
        raise error
    synthesis.stream = stream
    _live[synthesis.id] = synthesis
    return synthesis


async def synthesis_end(synthesis: Synthesis, status: str, error_code: str = "") -> None:
    """`synthesis_finish` from async code, always: a failure to record is logged, and the open
    record is left for the reaper (which settles the admission too)."""
    try:
        await database_sync_to_async(synthesis_finish)(
            synthesis, status=status, error_code=error_code
        )
    except Exception:
        logger.exception(
            "could not record the end of a synthesis", extra={"synthesis_id": str(synthesis.id)}
        )
        # Its lease is no longer kept: it expires, and the reaper then closes the open record
        # (billing what the workers sent) and settles the admission.
        if synthesis.admission is not None:
            keeper.release(synthesis.admission)


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
        meta={
            "tenant": synthesis.principal.tenant_slug,
            "synthesis": str(synthesis.id),
            # What each segment bills once its audio is sent: workers report it (the reaper
            # bills it if this process dies before recording the synthesis).
            "chars": [segment.chars for segment in plan.segments],
        },
    )


async def synthesis_open(synthesis: Synthesis, plan: Plan) -> JobStream:
    """Hands `plan` to a worker and waits for one to accept it, unless the phrase cache holds
    every segment of it (then no worker is asked). Raises SynthesisFailed."""
    return await phrase_cache.open_stream(
        synthesis_job(synthesis, plan),
        rate=synthesis.stock.sample_rate,
        cache=synthesis.input.cache,
    )


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
            tts_metrics.REFUSED.labels(reason="quota_exceeded").inc()
            raise ApplicationError(
                "This text would pass the account's monthly character quota; "
                "the context was cancelled.",
                code="quota_exceeded",
                param="text",
                status=429,
            )
    synthesis.grown += characters


async def synthesis_plan_unit(synthesis: Synthesis, text: str) -> Plan | None:
    """The plan of one speakable unit of a growing synthesis, under the engine's segment limit
    (made in a pool thread, off the event loop); None when it has nothing to say (only
    punctuation). Raises ApplicationError."""
    data = replace(synthesis.input, text=text, ssml=None)
    try:
        return await sync_to_async(plan_input, thread_sensitive=False)(
            data, voice=synthesis.voice, lexicon=synthesis.lexicon
        )
    except ApplicationError as error:
        if error.code == "empty_input":
            return None
        raise


# --- planning -------------------------------------------------------------------------------


def plan_input(
    data: SynthesisInput,
    *,
    voice: ResolvedVoice,
    max_characters: int | None = None,
    lexicon: Lexicon | None = None,
) -> Plan:
    """The text front-end's plan for the input, normalized for the request's language tag, else
    the voice's, and cut under its engine's segment limit. The input limit is
    TTS_MAX_INPUT_CHARACTERS, or `max_characters` (the tenant plan's) when lower; what the input
    bills (an SSML document's text, aliases and phonemes) is counted against it before anything
    is normalized, and an SSML document's size limit follows it. `lexicon`: the request's
    pronunciation dictionaries (`request_lexicon`). Raises ApplicationError (400)
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
            lexicon=lexicon,
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


def text_preview(
    *, principal: Principal, data: SynthesisInput, request_id: str, metered: bool = True
) -> tuple[ResolvedVoice, Plan]:
    """What the engine would be given for `data`, without synthesizing or billing anything.
    Admitted like a synthesis, for the rate limit only (no lease, nothing reserved): the
    front-end's work is not free. `metered=False`: a check before a synthesis that is admitted
    itself (the portal's playground). For sync views: the lookups run in the caller's thread,
    the front-end in a pool thread (not the one thread that sync views share under ASGI).
    Raises as `synthesis_admit`."""
    try:
        _check_plain_text(data)
        voice = voice_resolve(
            principal=principal, ref=data.voice, language=data.language, source=data.source
        )
        lexicon = request_lexicon(principal=principal, named=data.pronunciation_dictionaries)
        limits = limits_for(principal.tenant_id)
        if metered:
            async_to_sync(admission_service.admit_request)(
                principal,
                characters=0,
                lease_id=f"preview:{uuid.uuid4()}",
                limits=limits,
                rate_only=True,
            )
        plan = async_to_sync(sync_to_async(plan_input, thread_sensitive=False))(
            data, voice=voice, max_characters=limits.max_input_characters, lexicon=lexicon
        )
    except ApplicationError as refused:
        if metered:
            async_to_sync(refused_request)(principal, request_id, refused)
        raise
    return voice, plan


# --- admission while running ----------------------------------------------------------------


async def _settle_quietly(admission: Admission) -> None:
    try:
        await admission_service.settle(admission, billed_characters=0)
    except (RedisError, OSError):  # the lease expires by itself; PostgreSQL has the usage
        logger.warning("could not settle an admission", extra={"admission": admission.id})


def check_admitted(synthesis: Synthesis) -> None:
    """Raises LeaseLost when the synthesis's lease expired and could not be taken back (the
    keeper renews it on a timer; called between chunks)."""
    if synthesis.admission is not None and synthesis.admission.lost:
        raise LeaseLost()


# --- ending ---------------------------------------------------------------------------------


def synthesis_finish(synthesis: Synthesis, *, status: str, error_code: str = "") -> UsageRecord:
    """Records the end of a synthesis once: its usage record, open since admission, is closed
    (a second finish, or one after the reaper closed it, changes nothing) and the tenant's
    synthesis log row written; then its admission is settled (lease released, reservation
    turned into the billed characters). The record says `settled` only once Redis took the
    billed characters: a settle that failed after its retries is reconciled by the reaper."""
    rate = synthesis.stock.sample_rate
    ended = timezone.now()
    principal = synthesis.principal
    values = {
        "characters_billed": synthesis.billed_characters(status),
        "audio_seconds_synthesized": synthesis.samples_synthesized / rate,
        "audio_seconds_delivered": synthesis.samples_delivered / rate,
        "status": status,
        "error_code": error_code,
        "ended_at": ended,
        "settled": synthesis.admission is None,
    }
    records = UsageRecord.objects.filter(synthesis_id=synthesis.id)
    closed = records.filter(status=UsageRecord.Status.OPEN).update(**values)
    if not closed:
        record = records.first()
        if record is not None:  # finished before, or closed by the reaper: leave it
            _finished(synthesis, status, record)
            return record
        # Never opened (a synthesis admitted by code that predates opening, e.g. a bench).
        UsageRecord.objects.create(**_record_identity(synthesis), **values)
    record = records.get()
    try:  # the tenant's own log: its failure must not keep the admission from settling
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
                text_spoken=synthesis.text_spoken(status),
            )
    except DatabaseError:
        logger.exception(
            "could not write the tenant's synthesis log row",
            extra={"synthesis_id": str(synthesis.id)},
        )
    if synthesis.admission is not None:
        try:
            admission_service.settle_sync(
                synthesis.admission, billed_characters=record.characters_billed
            )
        except (RedisError, OSError):  # the reaper rebuilds the month's counter from here
            logger.warning(
                "could not settle an admission", extra={"synthesis_id": str(synthesis.id)}
            )
        else:
            records.update(settled=True)
            record.settled = True
        keeper.release(synthesis.admission)
    _finished(synthesis, status, record)
    _count_finished(synthesis, record)  # after the lease is released: nothing waits on it
    # One line per synthesis, with the log context's request id and tenant (README, LOG_LEVEL).
    logger.info(
        "synthesis finished",
        extra={
            "synthesis_id": str(synthesis.id),
            "source": synthesis.input.source,
            "engine": synthesis.stock.engine,
            "voice": synthesis.voice.id,
            "format": synthesis.input.output_format,
            "status": status,
            "error_code": error_code,
            "characters": record.characters_billed,
            "first_audio_ms": synthesis.first_audio_ms,
            "audio_seconds": round(record.audio_seconds_delivered, 3),
        },
    )
    return record


def _count_finished(synthesis: Synthesis, record: UsageRecord) -> None:
    """The metrics of a synthesis this process closed the record of (once per synthesis). The
    plan's slug is read first and `cwtts_syntheses_total` counted last: a scrape that sees the
    synthesis ended sees the rest of its figures too."""
    engine, endpoint = synthesis.stock.engine, synthesis.endpoint
    plan = plan_slug(synthesis.principal.plan_id) if record.characters_billed else ""
    tts_metrics.AUDIO_SECONDS.labels(engine=engine, endpoint=endpoint).inc(
        record.audio_seconds_delivered
    )
    if plan:
        tts_metrics.CHARACTERS_BILLED.labels(plan=plan).inc(record.characters_billed)
    if record.status == UsageRecord.Status.CANCELLED:
        tts_metrics.CANCELS.labels(endpoint=endpoint).inc()
    tts_metrics.SYNTHESES.labels(engine=engine, endpoint=endpoint, status=record.status).inc()


def active_streams() -> dict[str, int]:
    """Syntheses of this process admitted, recorded and not yet finished, by endpoint. Held
    weakly: one whose finish failed (left to the reaper) leaves with its request."""
    counts = dict.fromkeys(tts_metrics.ENDPOINTS.values(), 0)
    for synthesis in list(_live.values()):
        if not synthesis.finished:
            counts[synthesis.endpoint] = counts.get(synthesis.endpoint, 0) + 1
    return counts


def _finished(synthesis: Synthesis, status: str, record: UsageRecord) -> None:
    synthesis.finished = True
    synthesis.status = status
    hooks, synthesis.on_finish = synthesis.on_finish, []  # once: a second finish finds none
    for hook in hooks:
        hook(synthesis, record)
