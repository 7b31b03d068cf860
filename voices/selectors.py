"""Reads for voices: the stock catalogue beside the tenant's presets, and resolving what a
synthesis request names. Callers are in the tenant's schema."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django_tenants.utils import schema_context

from callwaiting_tts.errors import ApplicationError
from tenants.db import tenant_connection
from voices.catalogue import STOCK_VOICES, StockVoice
from voices.models import Voice


@dataclass(frozen=True)
class ResolvedVoice:
    id: str  # what the usage record names: a stock id or a preset's id
    stock: StockVoice
    language: str
    speed: float


def _default_key(schema_name: str) -> str:
    return f"default_voice:{schema_name}"


def cached_default_voice(schema_name: str) -> str | None:
    cached = cache.get(_default_key(schema_name))
    return None if cached is None else str(cached)


def default_voice_ref(schema_name: str) -> str:
    """The tenant's default preset id, or "" for the stock default. Cached in Redis (one GET on
    the synthesis hot path), forgotten when a default preset is created or deleted."""
    cached = cache.get(_default_key(schema_name))
    if cached is None:
        with schema_context(schema_name):
            found = Voice.objects.filter(is_default=True).values_list("pk", flat=True).first()
        cached = str(found) if found else ""
        cache.set(_default_key(schema_name), cached, 300)
    return str(cached)


def forget_default_voice() -> None:
    """Called in the tenant's schema after its default preset changed."""
    cache.delete(_default_key(tenant_connection().schema_name))


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


def is_stock(ref: str | None, source: str) -> bool:
    """Whether `ref` names a stock voice: resolving it then needs no database."""
    return _stock_ref(ref, source) in STOCK_VOICES


def voice_resolve(ref: str | None, *, language: str | None, source: str) -> ResolvedVoice:
    ref = _stock_ref(ref, source)
    stock, preset = STOCK_VOICES.get(ref), None
    if stock is None:
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
