"""A safe SSML 1.1 reader: document → `Item`s (see `synthesis.text.model`)."""

from __future__ import annotations

from .elements import (
    ALPHABETS,
    BREAK_STRENGTH_MS,
    DATE_FORMATS,
    DEFAULT_LIMITS,
    SAY_AS_TYPES,
    Limits,
    ParsedSsml,
    SsmlError,
    looks_like_ssml,
    parse_ssml,
)

__all__ = [
    "ALPHABETS",
    "BREAK_STRENGTH_MS",
    "DATE_FORMATS",
    "DEFAULT_LIMITS",
    "SAY_AS_TYPES",
    "Limits",
    "ParsedSsml",
    "SsmlError",
    "looks_like_ssml",
    "parse_ssml",
]
