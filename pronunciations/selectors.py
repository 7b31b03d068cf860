"""Reads for pronunciation dictionaries: the API's, and the lexicon a synthesis request uses.
Each read enters the principal's schema itself (`tenants.db`), so async callers need only a
database thread."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from callwaiting_tts.errors import ApplicationError
from pronunciations.models import PronunciationDictionary
from synthesis.text.lexicon import Dictionary, Entry, Lexicon
from tenants.db import tenant_schema
from tenants.principal import Principal

# How many dictionaries one request may name.
MAX_PER_REQUEST = 5


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
    return [
        Entry(word=e["word"], alias=e.get("alias"), phonemes=e.get("phonemes"))
        for e in dictionary.entries
    ]


def request_lexicon(*, principal: Principal, named: Sequence[str] | None) -> Lexicon | None:
    """The dictionaries a synthesis request uses: those it names, in its order (`[]`: none),
    or the tenant's default when it names none (`None`). One query. A name that is not one of
    the tenant's dictionaries is a 404 naming `pronunciation_dictionaries`."""
    param = "pronunciation_dictionaries"
    if named is not None and not named:
        return None
    if named is not None and len(named) > MAX_PER_REQUEST:
        raise ApplicationError(
            f"A request names at most {MAX_PER_REQUEST} pronunciation dictionaries.",
            code="invalid_request",
            param=param,
        )
    with tenant_schema(principal.schema_name):
        if named is None:
            found = list(PronunciationDictionary.objects.filter(is_default=True))
        else:
            keys = [key for key in map(_key, named) if key is not None]
            if len(keys) < len(named):
                raise DictionaryNotFound(param)
            by_id = {d.pk: d for d in PronunciationDictionary.objects.filter(pk__in=keys)}
            if len(by_id) < len(set(keys)):
                raise DictionaryNotFound(param)
            found = [by_id[key] for key in dict.fromkeys(keys)]
    if not found:
        return None
    return Lexicon([Dictionary(str(d.pk), d.language, tuple(entries_of(d))) for d in found])
