"""Reads for voices: the stock voices (the catalog's, and those live workers publish) beside
the tenant's own, and resolving what a synthesis request names. Each read enters the
principal's schema itself (`tenants.db`), so async callers need only a database thread."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.core.cache import cache
from redis.exceptions import RedisError

from callwaiting_tts.errors import ApplicationError
from callwaiting_tts.redis import get_redis
from synthesis.contract.keys import Keys
from synthesis.contract.messages import as_text
from synthesis.contract.segments import ConditioningRef
from synthesis.engines.catalog import ENGINES, STOCK_VOICES, StockVoice, engine_spec
from tenants.db import tenant_schema
from tenants.principal import Principal
from voices.audio import decode_audio
from voices.models import Voice, VoiceConsent
from voices.storage import ForeignPath, stock_preview_path, stock_read, storage_read
from voices.waveform import COLUMNS, waveform_svg

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ResolvedVoice:
    id: str  # what the usage record names: a stock id or the tenant's voice's id
    stock: StockVoice  # the engine voice: a stock voice, or a cloned voice as its engine sees it
    language: str
    speed: float
    conditioning: ConditioningRef | None = None  # a cloned voice's, for its engine's worker


class VoiceNotFound(ApplicationError):
    """Missing, or another tenant's: the same answer (404)."""

    def __init__(self) -> None:
        super().__init__("Not found.", code="not_found", status=404)


def voice_list(*, principal: Principal) -> list[Voice]:
    with tenant_schema(principal.schema_name):
        return list(Voice.objects.all())


def voice_get(*, principal: Principal, voice_id: str) -> Voice:
    """The tenant's preset `voice_id`; VoiceNotFound otherwise (another tenant's voice lives in
    another schema, so it is simply not found)."""
    try:
        key = uuid.UUID(voice_id)
    except ValueError:
        raise VoiceNotFound() from None
    with tenant_schema(principal.schema_name):
        voice = Voice.objects.filter(pk=key).first()
    if voice is None:
        raise VoiceNotFound()
    return voice


def voice_consents(*, principal: Principal, voice_ids: list[str]) -> dict[str, VoiceConsent]:
    """The consent records of the tenant's voices `voice_ids`, by voice id (one query)."""
    with tenant_schema(principal.schema_name):
        found = VoiceConsent.objects.filter(voice_id__in=voice_ids).order_by("attested_at")
        return {str(consent.voice_id): consent for consent in found}


# A stored clip's content type, by the extension its path was given (voices.storage).
CLIP_TYPES = {
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "m4a": "audio/mp4",
    "aac": "audio/aac",
    "ogg": "audio/ogg",
    "flac": "audio/flac",
    "webm": "audio/webm",
}
WAVEFORM_CACHE_SECONDS = 7 * 24 * 3600


def voice_clip_path(voice: Voice) -> str:
    """The clip to listen to: the cleaned reference once validation made it, else the upload as
    sent ("" for a preset, which has none)."""
    return voice.reference_path or voice.original_path


def voice_clip(*, principal: Principal, voice: Voice) -> tuple[bytes, str]:
    """The stored clip of the tenant's `voice` and its content type; VoiceNotFound when it has
    none (a preset) or its file is gone."""
    path = voice_clip_path(voice)
    if not path:
        raise VoiceNotFound()
    try:
        data = storage_read(path, schema_name=principal.schema_name)
    except (ForeignPath, OSError):
        raise VoiceNotFound() from None
    extension = path.rsplit(".", 1)[-1].lower()
    return data, CLIP_TYPES.get(extension, "application/octet-stream")


def _waveform_key(principal: Principal, voice: Voice) -> str:
    which = "reference" if voice.reference_path else "original"
    return f"voices:waveform:{principal.schema_name}:{voice.pk}:v{voice.version}:{which}"


def voice_waveform(*, principal: Principal, voice: Voice) -> str:
    """The SVG picture of the clip's envelope (`voices.waveform`, COLUMNS columns), its speech
    regions shaded when the report lists them (`speech_segments`; reports that leave them out
    get none). Cached per voice, version and clip: a new upload or a cleaned reference is a new
    picture. VoiceNotFound when there is no clip, or none we can decode."""
    key = _waveform_key(principal, voice)
    found = cache.get(key)
    if isinstance(found, str):
        return found
    data, _ = voice_clip(principal=principal, voice=voice)
    try:
        clip = decode_audio(data, max_seconds=settings.VOICE_UPLOAD_MAX_SECONDS + 1)
    except ApplicationError:
        raise VoiceNotFound() from None
    report = voice.report if isinstance(voice.report, dict) else {}
    speech = report.get("speech_segments") or ()
    svg = waveform_svg(clip.mono(), clip.duration, speech=speech, columns=COLUMNS)
    cache.set(key, svg, WAVEFORM_CACHE_SECONDS)
    return svg


def voice_count(*, principal: Principal) -> int:
    with tenant_schema(principal.schema_name):
        return Voice.objects.count()


def _default_key(schema_name: str) -> str:
    return f"default_voice:{schema_name}"


def default_voice_cache_key(schema_name: str) -> str:
    """The cache key of the tenant's default voice (for a caller that reads several at once)."""
    return _default_key(schema_name)


def default_voice_ref(schema_name: str) -> str:
    """The tenant's default preset id, or "" for the stock default. Cached in Redis (one GET on
    the synthesis hot path), forgotten when a default preset is created or deleted."""
    cached = cache.get(_default_key(schema_name))
    if cached is None:
        with tenant_schema(schema_name):
            found = Voice.objects.filter(is_default=True).values_list("pk", flat=True).first()
        cached = str(found) if found else ""
        cache.set(_default_key(schema_name), cached, 300)
    return str(cached)


def forget_default_voice(schema_name: str) -> None:
    """After the tenant's default preset changed."""
    cache.delete(_default_key(schema_name))


def _preset(ref: str) -> Voice | None:
    try:
        return Voice.objects.filter(pk=uuid.UUID(ref)).first()
    except ValueError:
        return Voice.objects.filter(name=ref).first()


# --- stock voices -----------------------------------------------------------------------------

# Published voices are read at most this often per process: a resolve on the hot path costs no
# Redis round trip most of the time, and a worker that starts or stops shows within this.
PUBLISHED_TTL_SECONDS = 2.0
_published: tuple[float, dict[str, StockVoice]] = (0.0, {})
_published_lock = threading.Lock()


def _read_published(engines: list[str]) -> dict[str, StockVoice]:
    client, keys = get_redis(), Keys(settings.REDIS_PREFIX)
    found: dict[str, StockVoice] = {}
    for engine in engines:
        ids = sorted(as_text(i) for i in client.smembers(keys.workers(engine)))
        if not ids:
            continue
        lists = client.mget([keys.voices(i) for i in ids])
        for raw in lists:
            for entry in json.loads(raw) if raw else []:
                voice = StockVoice.loads(entry)
                found.setdefault(voice.id, voice)
    return found


def published_voices() -> dict[str, StockVoice]:
    """The stock voices live workers publish (every engine's: the catalog's with their
    previews, the model's own such as XTTS's studio speakers, voice packs'), by id; a worker's
    list lives as long as its heartbeat."""
    global _published
    engines = [e for e in settings.TTS_ENGINES if e in ENGINES]
    if not engines:
        return {}
    read_at, voices = _published
    if time.monotonic() - read_at < PUBLISHED_TTL_SECONDS:
        return voices
    with _published_lock:
        try:
            voices = _read_published(engines)
        except (RedisError, OSError, ValueError):
            logger.warning("could not read the published voices")
            return _published[1]
        _published = (time.monotonic(), voices)
    return voices


def stock_voices() -> dict[str, StockVoice]:
    """Every stock voice this deployment offers now: the catalog's, for the engines it runs, and
    those its live workers publish."""
    published = published_voices()
    catalog = {
        v.id: _with_preview(v, published.get(v.id))
        for v in STOCK_VOICES.values()
        if v.engine in settings.TTS_ENGINES
    }
    return {**published, **catalog}


def _with_preview(voice: StockVoice, published: StockVoice | None) -> StockVoice:
    """A catalog voice as its row says, with the preview a live worker made of it."""
    if published is None or published.engine != voice.engine or not published.preview:
        return voice
    return replace(voice, preview=published.preview)


def stock_preview(voice_id: str) -> str:
    """The storage path of a stock voice's preview clip ("" if none is known yet);
    VoiceNotFound for an id that is no stock voice of this deployment."""
    voice = stock_voices().get(voice_id)
    if voice is None:
        raise VoiceNotFound()
    if voice.preview:
        return voice.preview
    if voice.id in STOCK_VOICES:  # fixed by its package: where its first worker stores it
        return stock_preview_path(voice.engine, voice.id)
    return ""


class PreviewUnavailable(ApplicationError):
    def __init__(self) -> None:
        super().__init__(
            "This voice's preview is not made yet: a worker of its engine makes it when it "
            "starts. Retry later.",
            code="preview_unavailable",
            status=503,
        )


def stock_preview_audio(voice_id: str) -> bytes:
    """The stored preview clip (WAV) of stock voice `voice_id`: VoiceNotFound for an id that is
    no stock voice, PreviewUnavailable (503) until a worker of its engine has made it."""
    path = stock_preview(voice_id)
    try:
        return stock_read(path)
    except (ForeignPath, OSError):
        if not path:
            raise VoiceNotFound() from None
        raise PreviewUnavailable() from None


def stock_voice(ref: str) -> StockVoice | None:
    return STOCK_VOICES.get(ref) or published_voices().get(ref)


def _stock_ref(ref: str | None, source: str) -> str:
    ref = ref or settings.TTS_DEFAULT_VOICE
    if source == "openai" and ref in settings.OPENAI_VOICE_MAP and ref not in STOCK_VOICES:
        return str(settings.OPENAI_VOICE_MAP[ref])
    return ref


def voice_resolve(
    *, principal: Principal, ref: str | None, language: str | None, source: str
) -> ResolvedVoice:
    """The voice a request names: a stock voice, or one of the tenant's presets by id or name;
    the tenant's default preset when it names none, else the stock default. Raises
    ApplicationError (unknown voice, a language the voice does not speak)."""
    if ref is None:
        ref = default_voice_ref(principal.schema_name) or None
    return _resolve(principal, ref, language=language, source=source)


def _resolve(
    principal: Principal, ref: str | None, *, language: str | None, source: str
) -> ResolvedVoice:
    """As `voice_resolve`, with the tenant's default already looked up (`ref` None: stock)."""
    ref = _stock_ref(ref, source)
    stock, preset, conditioning = stock_voice(ref), None, None
    if stock is None:
        with tenant_schema(principal.schema_name):
            preset = _preset(ref)
        if preset is not None and preset.kind == Voice.Kind.CLONED:
            stock, conditioning = _cloned(preset)
        elif preset is not None:
            stock = stock_voice(preset.base_voice)
    if stock is None:
        raise ApplicationError(
            f"Unknown voice {ref!r}: see GET /v1/voices.", code="unknown_voice", param="voice"
        )
    chosen = language or (preset.language if preset else stock.language)
    if not stock.speaks(chosen):
        raise ApplicationError(
            f"Voice {ref!r} does not speak {chosen!r}; it speaks {', '.join(stock.languages)}.",
            code="unsupported_language",
            param="language",
        )
    return ResolvedVoice(
        id=str(preset.pk) if preset else stock.id,
        stock=stock,
        language=chosen,
        speed=preset.speed if preset else 1.0,
        conditioning=conditioning,
    )


def voice_status_detail(voice: Voice) -> str:
    """What a cloned voice's status means for its owner, in words: why it cannot speak yet, or
    "" once it can (and for presets)."""
    if voice.kind != Voice.Kind.CLONED or voice.status == Voice.Status.READY:
        return ""
    if voice.status == Voice.Status.FAILED:
        return f"This voice cannot be used: {voice.error} Delete it and upload a better clip."
    if voice.status in (Voice.Status.UPLOADED, Voice.Status.VALIDATING):
        return "The clip is being checked; this takes a few seconds."
    if voice.status == Voice.Status.VALIDATED and voice.engine not in settings.TTS_ENGINES:
        return (
            f"The clip passed validation, but this deployment runs no {voice.engine} worker "
            f"(it runs {', '.join(settings.TTS_ENGINES)}), so the voice cannot be cloned or "
            f"spoken yet. It is cloned within minutes of a {voice.engine} worker being added."
        )
    return "The voice is being cloned; this takes a few seconds."


def _cloned(voice: Voice) -> tuple[StockVoice, ConditioningRef]:
    """A cloned voice as its engine speaks it, and its stored conditioning; ApplicationError
    (409) until the conditioning is ready, or when it failed."""
    if voice.status == Voice.Status.FAILED:
        raise ApplicationError(
            f"Voice {voice.name!r} could not be cloned: {voice.error}",
            code="voice_failed",
            param="voice",
            status=409,
        )
    if voice.status != Voice.Status.READY:
        raise ApplicationError(
            f"Voice {voice.name!r} is not ready. {voice_status_detail(voice)}",
            code="voice_not_ready",
            param="voice",
            status=409,
        )
    spec = engine_spec(voice.engine)
    stock = StockVoice(
        id=str(voice.pk),
        name=voice.name,
        engine=spec.name,
        language=voice.language,
        languages=spec.languages,
        description=voice.description,
    )
    return stock, ConditioningRef(str(voice.pk), voice.version, voice.conditioning_path)


async def voice_resolve_async(
    *,
    principal: Principal,
    ref: str | None,
    language: str | None,
    source: str,
    prefetched: Mapping[str, Any],
) -> ResolvedVoice:
    """`voice_resolve` for the event loop: a stock voice (the common case, on the hot path)
    needs no database, the tenant's default coming from `prefetched` (the cache values the
    caller read at once, `default_voice_cache_key` among them: a key it lacks is a miss); a
    preset or a miss is read in a database thread."""
    if ref is None:
        cached = prefetched.get(_default_key(principal.schema_name))
        if cached is None:  # a miss: the database, once, in a thread
            cached = await database_sync_to_async(default_voice_ref)(principal.schema_name)
        ref = str(cached) or None
    if _stock_ref(ref, source) in STOCK_VOICES:  # the catalog's: no Redis, no database
        return _resolve(principal, ref, language=language, source=source)
    return await database_sync_to_async(_resolve)(principal, ref, language=language, source=source)


def stock_voice_entry(voice: StockVoice) -> dict[str, Any]:
    return {
        "id": voice.id,
        "type": "stock",
        "name": voice.name,
        "language": voice.language,
        "description": voice.description,
        "sample_rate": voice.sample_rate,
        "engine": voice.engine,
        "locale": voice.locale or None,
        "accent": voice.accent or None,
        "gender": voice.gender or None,
        "pack": voice.pack or None,
        "preview_url": f"/v1/voices/{voice.id}/preview",
    }
