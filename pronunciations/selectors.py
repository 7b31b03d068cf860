"""Reads for pronunciation dictionaries: the API's, and the lexicon a synthesis request uses.
Each read enters the principal's schema itself (`tenants.db`), so async callers need only a
database thread."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from channels.db import database_sync_to_async
from django.core.cache import cache

from callwaiting_tts.errors import ApplicationError
from pronunciations.models import PronunciationDictionary
from synthesis.text.lexicon import Dictionary, Entry, Lexicon
from tenants.db import tenant_schema
from tenants.principal import Principal

# How many dictionaries one request may name.
MAX_PER_REQUEST = 5
# How long the tenant's default dictionary is cached (writes forget it at once).
DEFAULT_CACHE_SECONDS = 300


class DictionaryNotFound(ApplicationError):
    """Missing, or another tenant's: the same answer (404)."""

    def __init__(self, param: str | None = None) -> None:
        super().__init__("Not found.", code="not_found", status=404, param=param)


def _key(dictionary_id: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(dictionary_id))
    except ValueError:
        return None


def dictionary_list(*, principal: Principal) -> list[PronunciationDictionary]:
    with tenant_schema(principal.schema_name):
        return list(PronunciationDictionary.objects.all())


def dictionary_get(*, principal: Principal, dictionary_id: str) -> PronunciationDictionary:
    """The tenant's dictionary; DictionaryNotFound otherwise (another tenant's lives in another
    schema, so it is simply not found)."""
    key = _key(dictionary_id)
    if key is None:
        raise DictionaryNotFound()
    with tenant_schema(principal.schema_name):
        found = PronunciationDictionary.objects.filter(pk=key).first()
    if found is None:
        raise DictionaryNotFound()
    return found


def entries_of(dictionary: PronunciationDictionary) -> list[Entry]:
    """The stored entries as the front-end's (the service checked them before storing)."""
    return _entries(dictionary.entries)


def _entries(stored: list[dict[str, str]]) -> list[Entry]:
    return [Entry(word=e["word"], alias=e.get("alias"), phonemes=e.get("phonemes")) for e in stored]


def _default_key(schema_name: str) -> str:
    return f"pronunciation_default:{schema_name}"


def default_dictionary_cache_key(schema_name: str) -> str:
    """The cache key of the tenant's default dictionary (for a caller that reads several)."""
    return _default_key(schema_name)


def default_dictionary(schema_name: str) -> dict[str, Any]:
    """The tenant's default dictionary as `{id, language, entries}`, or `{}` when it has none.
    Cached (JSON, tenant-keyed), so a synthesis that names no dictionaries costs one cache GET
    and no database; forgotten when a write touches the default (`services`)."""
    cached = cache.get(_default_key(schema_name))
    if isinstance(cached, dict):
        return cached
    with tenant_schema(schema_name):
        found = PronunciationDictionary.objects.filter(is_default=True).first()
    record = _record(found) if found is not None else {}
    cache.set(_default_key(schema_name), record, DEFAULT_CACHE_SECONDS)
    return record


def forget_default_dictionary(schema_name: str) -> None:
    cache.delete(_default_key(schema_name))


def _lexicon(records: Sequence[dict[str, Any]]) -> Lexicon | None:
    dictionaries = [
        Dictionary(r["id"], r["language"], tuple(_entries(r["entries"]))) for r in records
    ]
    return Lexicon(dictionaries) if dictionaries else None


def _record(dictionary: PronunciationDictionary) -> dict[str, Any]:
    """What the front-end needs of a dictionary, as JSON (the cache holds JSON)."""
    return {
        "id": str(dictionary.pk),
        "language": dictionary.language,
        "entries": dictionary.entries,
    }


def request_lexicon(*, principal: Principal, named: Sequence[str] | None) -> Lexicon | None:
    """The dictionaries a synthesis request uses: those it names, in its order (`[]`: none),
    or the tenant's default when it names none (`None`). One query, or one cache GET for the
    default. A name that is not one of the tenant's dictionaries is a 404 naming
    `pronunciation_dictionaries`."""
    if named is None:
        default = default_dictionary(principal.schema_name)
        return _lexicon([default] if default else [])
    return _lexicon([_record(d) for d in _named(principal, named)])


async def request_lexicon_async(
    *,
    principal: Principal,
    named: Sequence[str] | None,
    prefetched: Mapping[str, Any],
) -> Lexicon | None:
    """`request_lexicon` for the event loop: the default, from `prefetched` (the cache values
    the caller read at once, `default_dictionary_cache_key` among them: a key it lacks is a
    miss), needs no database thread (the hot path of a request that names none); a miss or
    named ones are read in one."""
    if named is None:
        cached = prefetched.get(_default_key(principal.schema_name))
        if isinstance(cached, dict):
            return _lexicon([cached] if cached else [])
    if named is not None and not named:
        return None
    return await database_sync_to_async(request_lexicon)(principal=principal, named=named)


def _named(principal: Principal, named: Sequence[str]) -> list[PronunciationDictionary]:
    param = "pronunciation_dictionaries"
    if len(named) > MAX_PER_REQUEST:
        raise ApplicationError(
            f"A request names at most {MAX_PER_REQUEST} pronunciation dictionaries.",
            code="invalid_request",
            param=param,
        )
    keys = [key for key in map(_key, named) if key is not None]
    if len(keys) < len(named):
        raise DictionaryNotFound(param)
    with tenant_schema(principal.schema_name):
        by_id = {d.pk: d for d in PronunciationDictionary.objects.filter(pk__in=keys)}
    if len(by_id) < len(set(keys)):
        raise DictionaryNotFound(param)
    return [by_id[key] for key in dict.fromkeys(keys)]
