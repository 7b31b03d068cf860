"""Reads for voices: the stock catalogue beside the tenant's presets, and resolving what a
synthesis request names. Each read enters the principal's schema itself (`tenants.db`), so
async callers need only a database thread."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.core.cache import cache

from callwaiting_tts.errors import ApplicationError
from synthesis.engines.catalog import STOCK_VOICES, StockVoice
from tenants.db import tenant_schema
from tenants.principal import Principal
from voices.models import Voice


@dataclass(frozen=True)
class ResolvedVoice:
    id: str  # what the usage record names: a stock id or a preset's id
    stock: StockVoice
    language: str
    speed: float


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


def voice_count(*, principal: Principal) -> int:
    with tenant_schema(principal.schema_name):
        return Voice.objects.count()


def _default_key(schema_name: str) -> str:
    return f"default_voice:{schema_name}"


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
    stock, preset = STOCK_VOICES.get(ref), None
    if stock is None:
        with tenant_schema(principal.schema_name):
            preset = _preset(ref)
        stock = STOCK_VOICES.get(preset.base_voice) if preset else None
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
    )


async def voice_resolve_async(
    *, principal: Principal, ref: str | None, language: str | None, source: str
) -> ResolvedVoice:
    """`voice_resolve` for the event loop: a stock voice (the common case, on the hot path)
    costs at most one cache GET for the tenant's default and no database; a preset is read in a
    database thread."""
    if ref is None:
        cached = cache.get(_default_key(principal.schema_name))
        if cached is None:  # a miss: the database, once, in a thread
            cached = await database_sync_to_async(default_voice_ref)(principal.schema_name)
        ref = str(cached) or None
    if _stock_ref(ref, source) in STOCK_VOICES:
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
    }
